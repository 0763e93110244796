#!/usr/bin/env bash
# `make demo`: run the nightly export DAG end to end against the embedded AEP simulator: ensure the
# dataset, export, wait deferred, land the Parquet files in a local folder, read them.
# Uses .venv (made by `make install`) and an AIRFLOW_HOME inside the repo (.airflow/, git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/.venv/bin

export AIRFLOW_HOME=$root/.airflow/demo
export AIRFLOW__CORE__DAGS_FOLDER=$root/example_dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__LOGGING__LOGGING_LEVEL=INFO
mkdir -p "$AIRFLOW_HOME"

workdir=$(mktemp -d)
sim_pid=""
cleanup() {
  if [[ -n $sim_pid ]]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

echo "==> Preparing the Airflow metadata database in $AIRFLOW_HOME"
"$bin/airflow" db migrate > "$workdir/db.log" 2>&1 || { cat "$workdir/db.log"; exit 1; }

echo "==> Starting the AEP simulator (jobs take 20 s)"
"$bin/python" -m airflow_provider_aep.simulator --port 0 --job-duration 20 --print-connection \
  > "$workdir/connection" 2> "$workdir/simulator.log" &
sim_pid=$!
for _ in $(seq 100); do [[ -s $workdir/connection ]] && break; sleep 0.1; done
[[ -s $workdir/connection ]] || { echo "simulator did not start"; cat "$workdir/simulator.log"; exit 1; }
AIRFLOW_CONN_AEP_DEFAULT=$(head -n 1 "$workdir/connection")
export AIRFLOW_CONN_AEP_DEFAULT
echo "    aep_default -> $("$bin/python" -c 'import json,sys; print(json.loads(sys.argv[1])["host"])' "$AIRFLOW_CONN_AEP_DEFAULT")"

exports=$AIRFLOW_HOME/exports
rm -rf "$exports"
echo "==> airflow dags test aep_nightly_segment_export (files land in $exports)"
set +e
"$bin/airflow" dags test aep_nightly_segment_export -c "{\"destination\": \"file://$exports\"}" > "$workdir/run.log" 2>&1
status=$?
set -e
# Show the story of the run: Airflow's log lines reduced to their messages.
"$bin/python" - "$workdir/run.log" <<'PY'
import re, sys
wanted = re.compile(
    r"Created dataset|profile union schema; using it|Created export job|Export job \d+ (is|reports)|running trigger in line"
    r"|SUCCEEDED:|Downloading \d+ file|Download done|AEP export landed|DagRun Finished"
)
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if not wanted.search(line):
        continue
    match = re.match(r"^\S+ \[\w+\s*\] (.*?)(?: \[[\w.]+\]| loc=|$)", line)
    text = match.group(1) if match else line.strip()
    if text.startswith("DagRun Finished"):
        state = re.search(r"state=(\w+)", line)
        text = f"DagRun finished: state={state.group(1) if state else '?'}"
    print("   ", text[:160])
PY
summary=$(grep -o "AEP export landed: [^[]*" "$workdir/run.log" | head -n 1 || true)
manifest=$(find "$exports" -name _manifest.json 2>/dev/null | head -n 1)
if [[ $status -ne 0 || -z $summary || -z $manifest ]]; then
  echo "Demo FAILED (exit $status). Full log:"; cat "$workdir/run.log"; exit 1
fi
echo
echo "==> ${summary%% }"
echo "==> The files, under $exports:"
(cd "$exports" && find . -type f | sort | sed 's/^/    /')
echo "==> The manifest, written last ($manifest):"
sed 's/^/    /' "$manifest"

"""What landing an export costs: the download operator against curl, on the same simulator file.

Run with ``make bench`` (after the triggerer benchmark) or ``.venv/bin/python benchmarks/download.py``.

The simulator runs in its own process and serves raw files of any size, made on demand, so a
gigabyte costs it no memory. Measured side by side in one run, each in a fresh process:

- ``curl``: ``curl -o FILE`` of the same file with the same headers, the reference;
- ``operator``: ``AepExportToObjectStorageOperator.execute`` into a ``file://`` destination, which
  lists the batch, streams the file through the hook, hashes it and writes it, then the manifest.

Throughput is bytes over the wall time of the process's transfer (the operator's includes its
Catalog and Data Access listings and the manifest). Peak RSS is the process's high-water mark
(``VmHWM``), given whole and as growth over the process's RSS before the transfer. Runs alternate
order, and the table gives the median and the spread. Then a batch of 50 files is landed with
``max_concurrency`` 1, 4 and 8.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

GIB = 1024**3
MIB = 1024**2


def vm_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


# -- the worker: one operator run in a fresh process -------------------------------------------


def operator_worker(job_id: str, destination: str, concurrency: int) -> dict[str, Any]:
    from airflow_provider_aep.transfers.export_to_object_storage import AepExportToObjectStorageOperator
    from tests.task_context import task_context

    operator = AepExportToObjectStorageOperator(
        task_id="download_export", job_id=job_id, destination=destination, max_concurrency=concurrency
    )
    context = task_context()
    before_kb = vm_kb("VmRSS")
    started = time.perf_counter()
    result = operator.execute(context)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": result["bytes"], "rss_before_kb": before_kb, "rss_peak_kb": vm_kb("VmHWM")}


# -- the orchestrator ---------------------------------------------------------------------------


def finished_job(connection: dict[str, Any], **scenario: Any) -> tuple[str, list[dict[str, Any]], dict[str, str]]:
    """A SUCCEEDED job writing files of the given layout; its id, its files and request headers."""
    base = connection["host"]
    httpx.post(f"{base}/_simulator/scenarios", json=[{"polls_to_finish": 1, **scenario}]).raise_for_status()
    token = httpx.post(
        f"{base}/ims/token/v3",
        data={
            "grant_type": "client_credentials",
            "client_id": connection["login"],
            "client_secret": connection["password"],
            "scope": "openid",
        },
    ).json()["access_token"]
    headers = {
        "Authorization": f"Bearer {token}",
        "x-api-key": connection["login"],
        "x-gw-ims-org-id": connection["extra"]["org_id"],
        "x-sandbox-name": "prod",
    }
    body = {"destination": {"datasetId": "5b7c86968f7b6501e21ba9df"}, "schema": {"name": "_xdm.context.profile"}}
    job_id = str(httpx.post(f"{base}/data/core/ups/export/jobs", json=body, headers=headers).json()["id"])
    httpx.get(f"{base}/data/core/ups/export/jobs/{job_id}", headers=headers).raise_for_status()
    listing = httpx.get(f"{base}/data/foundation/export/batches/sim-batch-{job_id}/files", headers=headers).json()
    files = []
    for entry in listing["data"]:
        named = httpx.get(f"{base}/data/foundation/export/files/{entry['dataSetFileId']}", headers=headers).json()
        files += [{"file_id": entry["dataSetFileId"], **item} for item in named["data"]]
    return job_id, files, headers


def run_curl(connection: dict[str, Any], file: dict[str, Any], headers: dict[str, str], target: Path) -> dict[str, Any]:
    url = f"{connection['host']}/data/foundation/export/files/{file['file_id']}?path={file['name']}"
    command = ["curl", "-sS", "--fail", "-o", str(target), "-w", "%{size_download} %{time_total}"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    # GNU time's %M would need another package; curl's own peak is read from /proc while it runs.
    process = subprocess.Popen([*command, url], stdout=subprocess.PIPE, text=True)
    peak_kb = 0
    while process.poll() is None:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
            peak_kb = max(
                peak_kb, int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
            )
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            pass
        time.sleep(0.05)
    size, seconds = process.communicate()[0].split()
    return {"seconds": float(seconds), "bytes": int(size), "rss_before_kb": 0, "rss_peak_kb": peak_kb}


def run_operator(connection: dict[str, Any], job_id: str, destination: Path, concurrency: int = 4) -> dict[str, Any]:
    shutil.rmtree(destination, ignore_errors=True)
    env = {
        **os.environ,
        "AIRFLOW_CONN_AEP_DEFAULT": json.dumps(connection),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    worker = [sys.executable, __file__, "--worker", job_id, f"file://{destination}", str(concurrency)]
    result = subprocess.run(worker, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"the operator failed:\n{result.stderr[-3000:]}")
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def mib_per_s(run: dict[str, Any]) -> float:
    return float(run["bytes"]) / MIB / float(run["seconds"])


def spread(values: list[float], digits: int = 0) -> str:
    middle = statistics.median(values)
    return f"{middle:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024, help="the single file's size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-files", type=int, default=50)
    parser.add_argument("--batch-file-mib", type=int, default=8)
    parser.add_argument("--charts", type=Path, help="also draw the run's chart into this folder (needs matplotlib)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        job_id, destination, concurrency = args.worker
        print(json.dumps(operator_worker(job_id, destination, int(concurrency))))
        return
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed as the reference: apt-get install curl")

    from benchmarks.triggerer_scale import start_simulator

    simulator, connection = start_simulator(job_seconds=1.0)  # jobs here finish on their first poll
    scratch = Path(tempfile.mkdtemp(prefix="aep-download-bench-"))
    try:
        job_id, (file,), headers = finished_job(connection, file_size=args.size_mib * MIB)
        runs: dict[str, list[dict[str, Any]]] = {"curl": [], "operator": []}
        for round_ in range(args.repeats):
            order = ["curl", "operator"] if round_ % 2 == 0 else ["operator", "curl"]
            for variant in order:
                print(f"  {variant}: {args.size_mib} MiB ...", file=sys.stderr, flush=True)
                if variant == "curl":
                    runs[variant].append(run_curl(connection, file, headers, scratch / "curl.bin"))
                    (scratch / "curl.bin").unlink()
                else:
                    runs[variant].append(run_operator(connection, job_id, scratch / "operator"))
        batch_job, _, _ = finished_job(
            connection, files_per_batch=args.batch_files, file_size=args.batch_file_mib * MIB
        )
        batch_runs = {}
        for concurrency in (1, 4, 8):
            print(f"  operator: {args.batch_files} files, concurrency {concurrency} ...", file=sys.stderr, flush=True)
            batch_runs[concurrency] = run_operator(connection, batch_job, scratch / "batch", concurrency)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)

    curl_speeds = [mib_per_s(run) for run in runs["curl"]]
    ours = [mib_per_s(run) for run in runs["operator"]]
    ratios = [mine / theirs for mine, theirs in zip(ours, curl_speeds, strict=True)]
    print(f"machine: {os.cpu_count()} cores; one {args.size_mib} MiB file, {args.repeats} runs each, alternating order")
    print()
    print("| variant | MiB/s | x curl | peak RSS MiB | RSS growth MiB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for variant, speeds in (("curl", curl_speeds), ("operator", ours)):
        peaks = [run["rss_peak_kb"] / 1024 for run in runs[variant]]
        growth = (
            [(run["rss_peak_kb"] - run["rss_before_kb"]) / 1024 for run in runs[variant]]
            if variant == "operator"
            else peaks
        )
        share = spread(ratios, 2) if variant == "operator" else "1.00"
        print(f"| {variant} | {spread(speeds)} | {share} | {spread(peaks)} | {spread(growth)} |")
    print()
    print(f"{args.batch_files} files of {args.batch_file_mib} MiB, landed by the operator:")
    print()
    print("| max_concurrency | seconds | MiB/s | peak RSS MiB | RSS growth MiB |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for concurrency, run in batch_runs.items():
        growth = (run["rss_peak_kb"] - run["rss_before_kb"]) / 1024
        peak = run["rss_peak_kb"] / 1024
        print(f"| {concurrency} | {run['seconds']:.1f} | {mib_per_s(run):.0f} | {peak:.0f} | {growth:.0f} |")
    print()
    ratio, growth = (
        statistics.median(ratios),
        statistics.median((run["rss_peak_kb"] - run["rss_before_kb"]) / 1024 for run in runs["operator"]),
    )
    print(f"- throughput at least 0.8 x curl: {ratio:.2f} x -> {'met' if ratio >= 0.8 else 'MISSED'}")
    verdict = "met" if growth < 100 else "MISSED"
    print(
        f"- memory for a {args.size_mib} MiB file under 100 MB, growth while downloading: {growth:.0f} MiB -> {verdict}"
    )
    if args.charts:
        from benchmarks.charts import download_throughput

        chart = download_throughput(
            {"curl": curl_speeds, "operator": ours},
            {concurrency: mib_per_s(run) for concurrency, run in batch_runs.items()},
            (f"one {args.size_mib:,} MiB file", f"{args.batch_files} files of {args.batch_file_mib} MiB"),
            args.charts / "bench-download-throughput.png",
        )
        print(f"chart: {chart}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()

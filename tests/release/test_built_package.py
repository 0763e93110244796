"""The package as a user installs it: the wheel and sdist build and pass ``twine check``, and the
wheel alone, in a virtual environment of its own, registers the provider with Airflow and lets
the example DAG parse.

Slow (a fresh environment), so it runs once per ``make test``, with the Airflow 3 suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_aep import __version__
from tests import REPO
from tests.dag_files import load_dag_file

CONSTRAINTS = REPO / "requirements" / "constraints.txt"
EXAMPLE = REPO / "example_dags" / "aep_nightly_segment_export.py"


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{command}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_built_wheel_installs_registers_the_provider_and_parses_the_example(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--outdir", dist, REPO, cwd=tmp_path)
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    assert wheel.name == f"airflow_provider_aep-{__version__}-py3-none-any.whl"
    run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist, cwd=tmp_path)

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    run(
        venv / "bin" / "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-c",
        CONSTRAINTS,
        wheel,
        cwd=tmp_path,
    )

    # Outside the source tree, so that only the installed wheel can be imported.
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "home"), "PYTHONPATH": ""}
    providers = json.loads(run(venv / "bin" / "airflow", "providers", "list", "-o", "json", cwd=tmp_path, env=env))
    assert {"package_name": "airflow-provider-aep", "version": __version__}.items() <= next(
        provider for provider in providers if provider["package_name"] == "airflow-provider-aep"
    ).items()

    parse = (
        "import runpy, airflow_provider_aep; from airflow.sdk import DAG\n"
        f"found = runpy.run_path({str(EXAMPLE)!r})\n"
        "(dag,) = [value for value in found.values() if isinstance(value, DAG)]\n"
        "print(airflow_provider_aep.__file__, ','.join(sorted(dag.task_ids)))\n"
    )
    where, task_ids = run(venv / "bin" / "python", "-c", parse, cwd=tmp_path, env=env).split()
    assert where.startswith(str(venv))  # the installed wheel, not the checkout
    (source_dag,) = [value for value in vars(load_dag_file(EXAMPLE)).values() if isinstance(value, DAG)]
    assert task_ids == ",".join(sorted(source_dag.task_ids))

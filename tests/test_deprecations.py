"""On Airflow 3, the provider imports nothing that Airflow deprecates: Task SDK paths first.

Runs in a fresh interpreter, because a module imported earlier in the test session would not
warn again; every deprecation warning class Airflow uses is an error there.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests import REPO
from tests.airflow_compat import AIRFLOW_V_3

STRICT_IMPORTS = """
import warnings
from airflow.exceptions import AirflowProviderDeprecationWarning, RemovedInAirflow4Warning

for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning,
                 RemovedInAirflow4Warning, AirflowProviderDeprecationWarning):
    warnings.simplefilter("error", category)

import airflow_provider_aep.assets
import airflow_provider_aep.get_provider_info
import airflow_provider_aep.hooks.aep
import airflow_provider_aep.operators.export_job
import airflow_provider_aep.sensors.export_job
import airflow_provider_aep.triggers.export_job

from tests.dag_files import load_dag_file
from airflow.sdk import DAG

module = load_dag_file(REPO / "example_dags" / "aep_nightly_segment_export.py")
dags = [value for value in vars(module).values() if isinstance(value, DAG)]
print(f"parsed {len(dags)} DAG(s), {len(dags[0].tasks)} tasks")
"""


@pytest.mark.skipif(not AIRFLOW_V_3, reason="deprecated paths are Airflow 3's concern; 2.11 has no Task SDK")
def test_import_and_dag_parse_raise_no_deprecation_warning() -> None:
    code = f"from pathlib import Path\nREPO = Path({str(REPO)!r})\n{STRICT_IMPORTS}"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "parsed 1 DAG(s)" in result.stdout

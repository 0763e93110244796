"""On Airflow 3, the provider imports nothing that Airflow deprecates: Task SDK paths first."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests import REPO
from tests.airflow_compat import AIRFLOW_V_3


@pytest.mark.skipif(not AIRFLOW_V_3, reason="deprecated paths are Airflow 3's concern; 2.11 has no Task SDK")
def test_import_and_dag_parse_raise_no_deprecation_warning() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.strict_imports"], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "aep_nightly_segment_export.py parsed, aep_nightly_segment_export" in result.stdout
    assert "aep_land_new_batches.py parsed, aep_land_new_batches with 3 tasks" in result.stdout

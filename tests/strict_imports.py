"""Import the provider and parse the nightly and the watched-dataset example DAGs with every deprecation
warning as an error.

Run as ``python -m tests.strict_imports`` in a fresh interpreter (a module imported earlier would
not warn again): by ``tests/test_deprecations.py`` on Airflow 3.3, and by ``make test`` in an
Airflow 3.0 environment of its own, the oldest Airflow 3 release the provider supports.
"""

from __future__ import annotations

import importlib
import warnings

from airflow.exceptions import AirflowProviderDeprecationWarning, RemovedInAirflow4Warning

for category in (
    DeprecationWarning,
    PendingDeprecationWarning,
    FutureWarning,
    RemovedInAirflow4Warning,
    AirflowProviderDeprecationWarning,
):
    warnings.simplefilter("error", category)
# Deprecations raised inside Airflow and its providers (common.compat's own imports on Airflow 3.0)
# are theirs to fix; a warning the provider's or the DAG's code causes is attributed to that code.
warnings.filterwarnings("ignore", module=r"airflow\.")

from airflow import __version__ as airflow_version  # noqa: E402
from airflow.providers.common.compat.sdk import DAG  # noqa: E402

from tests import REPO  # noqa: E402
from tests.dag_files import load_dag_file  # noqa: E402

MODULES = (
    "airflow_provider_aep.assets",
    "airflow_provider_aep.get_provider_info",
    "airflow_provider_aep.hooks.aep",
    "airflow_provider_aep.operators.export_job",
    "airflow_provider_aep.sensors.export_job",
    "airflow_provider_aep.triggers.export_job",
    "airflow_provider_aep.watched_assets",
)


def main() -> None:
    for module in MODULES:
        importlib.import_module(module)
    for name in ("aep_nightly_segment_export.py", "aep_land_new_batches.py"):
        path = REPO / "example_dags" / name
        (dag,) = [value for value in vars(load_dag_file(path)).values() if isinstance(value, DAG)]
        print(f"Airflow {airflow_version}: {path.name} parsed, {dag.dag_id} with {len(dag.tasks)} tasks")


if __name__ == "__main__":
    main()

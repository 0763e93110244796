"""The README's "Using it in a DAG" sample, verbatim, inside a nightly data-interval DAG, so that
``dag.test()`` (which only runs DAGs from a bundle) can run it against the simulator."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.timetables.interval import CronDataIntervalTimetable

from tests import REPO
from tests.airflow_compat import DAG
from tests.markdown import code_samples

README_DAG_SAMPLE = code_samples(REPO / "README.md", "python")[0]

with DAG(
    dag_id="aep_readme_sample",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
) as dag:
    sample: dict[str, object] = {}
    exec(README_DAG_SAMPLE, sample)

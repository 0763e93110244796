"""What the cluster is: its processes and its configuration. docs/deployment.md shows these very
commands and settings, and tests/test_docs_snippets.py holds the two to each other."""

from __future__ import annotations

import json

POOL = "aep_exports"
POOL_SLOTS = 200  # the organisation's cap on export tasks; above the fan-out, so it never throttles here


def pool_command(slots: int = POOL_SLOTS) -> tuple[str, ...]:
    """`airflow pools set` for the export pool, deferred waits counted."""
    return ("pools", "set", POOL, str(slots), "AEP export jobs", "--include-deferred")


SCHEDULERS = ("scheduler-1", "scheduler-2")
TRIGGERERS = ("triggerer-1", "triggerer-2")
WORKERS = ("worker-1", "worker-2")


def components() -> dict[str, tuple[str, ...]]:
    """Every process of the deployment, as the `airflow` command that starts it. The log servers
    are skipped because every component shares one machine (and AIRFLOW_HOME) here."""
    return {
        "api-server": ("api-server",),
        **{name: ("scheduler", "--skip-serve-logs") for name in SCHEDULERS},
        "dag-processor": ("dag-processor",),
        **{name: ("triggerer", "--skip-serve-logs") for name in TRIGGERERS},
        **{
            name: ("celery", "worker", "--celery-hostname", f"{name}@%h", "--skip-serve-logs", "--without-mingle")
            for name in WORKERS
        },
    }


def settings(database_url: str, broker_url: str, connections_file: str) -> dict[str, str]:
    """The configuration docs/deployment.md recommends. Shorter than Airflow's defaults, so that a
    lost component is noticed sooner: the task heartbeat timeout (30 s, not 300 s: a lost worker's
    tasks), the orphaned-task check (30 s, not 300 s: a lost scheduler's queued tasks) and the
    queued timeout (120 s checked every 10 s, not 600 s every 120 s: messages a broker lost).
    The AEP connection comes from a secrets backend (Airflow's file-based one here), not from an
    environment variable."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{database_url}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "8",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_PRE_PING": "True",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "120",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
        "AIRFLOW__TRIGGERER__CAPACITY": "1000",
        "AIRFLOW__TRIGGERER__MAX_TRIGGER_TO_SELECT_PER_LOOP": "50",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "5",
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "30",
        "AIRFLOW__TRIGGERER__ON_KILL_TIMEOUT": "30",
        "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_file_path": connections_file}),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }

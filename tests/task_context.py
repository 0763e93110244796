"""The task-instance side of a context, for tests that call ``execute`` or ``poke`` directly."""

from __future__ import annotations

from typing import Any


class TaskInstanceStub:
    """Records what a task pushes to XCom (its summary, its extra link); a first try by default."""

    def __init__(self, try_number: int = 1) -> None:
        self.try_number = try_number
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def task_context(**entries: Any) -> Any:
    """A context with a fresh ``ti`` and the given entries (``outlet_events``, ...)."""
    return {"ti": TaskInstanceStub(), **entries}

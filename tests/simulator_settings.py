"""Between tests, one long-lived simulator gets back every switch a test may have turned."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from airflow_provider_aep.simulator import SimulatorState


def restore_defaults(state: SimulatorState, keep: Collection[str] = ()) -> None:
    """Each setting but those in ``keep`` back to its default; records are ``reset()``'s job."""
    defaults = SimulatorState()
    for setting in dataclasses.fields(SimulatorState):
        if setting.name not in keep:
            setattr(state, setting.name, getattr(defaults, setting.name))

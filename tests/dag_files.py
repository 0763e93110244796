"""Loading a DAG file as a module, the way the tests that run its DAGs need it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_dag_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

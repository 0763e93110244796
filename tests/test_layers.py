"""The package's layers, as docs/architecture.md draws them: each module imports only from its own layer or below.

Read from the source (every import, those for type checking included), so a module that reaches up
a layer fails here before anyone has to notice it in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import airflow_provider_aep

PACKAGE = Path(airflow_provider_aep.__file__).parent
NAME = "airflow_provider_aep"

# Lowest first. A module may import from its own layer and the layers below it, never above.
LAYERS: dict[str, int] = {
    "": 0,  # the package itself: its version and user agent
    "exceptions": 0,
    "config": 0,  # the [aep] section's names and description: data only
    "identifiers": 1,
    "scrubbing": 1,
    "models": 2,
    "client": 3,
    "compat": 4,
    "hooks": 4,
    "assets": 4,
    "get_provider_info": 4,
    "links": 5,
    "wait": 5,
    "triggers": 5,
    "operators": 6,
    "sensors": 6,
    "transfers": 6,
    "watched_assets": 6,  # an asset with its watcher: what a DAG declares
}
# Third-party packages a layer must not import, whatever else it may.
BANNED = {"client": {"airflow"}, "models": {"airflow"}, "exceptions": {"airflow"}, "config": {"airflow"}}


def runtime_modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "simulator" not in path.relative_to(PACKAGE).parts)


def part_of(dotted: str) -> str:
    """The layer key of a module of this package: its first component below the package."""
    rest = dotted.removeprefix(NAME).lstrip(".")
    return rest.split(".")[0] if rest else ""


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def own_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join((NAME, *parts)).removesuffix(".__init__")


def violations(module: str, names: set[str]) -> list[str]:
    """What is wrong with ``module`` importing ``names``; nothing when it keeps to its layer."""
    own = part_of(module)
    if own not in LAYERS:
        return [f"{module} is in no layer: add it to docs/architecture.md and LAYERS"]
    found = []
    for name in sorted(names):
        top = name.split(".")[0]
        if top in BANNED.get(own, set()):
            found.append(f"{module} imports {name}")
        elif top == NAME and part_of(name) == "simulator":
            found.append(f"{module} imports the simulator")
        elif top == NAME and LAYERS[part_of(name)] > LAYERS[own]:
            found.append(f"{module} (layer {own!r}) reaches up to {name}")
    return found


@pytest.mark.parametrize("path", runtime_modules(), ids=lambda path: path.relative_to(PACKAGE).as_posix())
def test_a_module_imports_only_from_its_layer_or_below(path: Path) -> None:
    assert violations(own_name(path), imported(path)) == []


def test_exceptions_depend_on_nothing_else_in_the_package() -> None:
    assert not {name for name in imported(PACKAGE / "exceptions.py") if name.split(".")[0] == NAME}


@pytest.mark.parametrize(
    ("module", "name"),
    [
        # What the old layout did: models using the client's scrubbing, a trigger base reaching into
        # the client's pools, the request core importing Airflow.
        (f"{NAME}.models.catalog", f"{NAME}.client.responses"),
        (f"{NAME}.client.calls", "airflow.models"),
        (f"{NAME}.hooks.aep", f"{NAME}.wait.options"),
        (f"{NAME}.client.calls", f"{NAME}.simulator"),
    ],
)
def test_the_check_refuses_an_import_that_reaches_up(module: str, name: str) -> None:
    assert violations(module, {name})

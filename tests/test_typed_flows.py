"""``mypy --strict`` checks what a flow does with each action's outcome: a token is a str, a reply a Reply.

Run on small flows written against the client, as a maintainer would write a new API's flow.
"""

from __future__ import annotations

import pytest

mypy_api = pytest.importorskip("mypy.api")

HEADER = """
from airflow_provider_aep.client.calls import get_token, send
from airflow_provider_aep.client.flows import Flow, GetToken, Reply, Request
"""

CORRECT = """
def flow() -> Flow[int]:
    token = yield from get_token()
    outcome = yield from send(Request("GET", "https://x/y", "/y", {"Authorization": token}), 1.0, 1024)
    return outcome.status_code if isinstance(outcome, Reply) else 0
"""

MISTAKES = {
    "a token taken for a number": """
def flow() -> Flow[int]:
    token = yield from get_token()
    return token + 1
""",
    "a reply read without checking it is one": """
def flow() -> Flow[int]:
    outcome = yield from send(Request("GET", "https://x/y", "/y", {}), 1.0, 1024)
    return outcome.status_code
""",
    "a bare yield's outcome used as a token": """
def flow() -> Flow[str]:
    token: str = yield GetToken()
    return token
""",
}


def file_of(name: str) -> str:
    return "flow_" + "".join(character if character.isalnum() else "_" for character in name) + ".py"


@pytest.fixture(scope="module")
def errors(tmp_path_factory: pytest.TempPathFactory) -> str:
    """mypy's report on every flow above, in one run (each run checks the client afresh)."""
    folder = tmp_path_factory.mktemp("flows")
    files = []
    for name, body in {"correct": CORRECT, **MISTAKES}.items():
        files.append(folder / file_of(name))
        files[-1].write_text(HEADER + body)
    stdout, _, _ = mypy_api.run(["--strict", "--no-incremental", "--follow-imports=silent", *map(str, files)])
    return stdout


def test_a_correct_flow_type_checks(errors: str) -> None:
    assert file_of("correct") not in errors, errors


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_mistake_with_an_outcome_fails_the_type_check(errors: str, mistake: str) -> None:
    assert f"{file_of(mistake)}:" in errors, errors

"""The harness's last check, shown to catch what it is there to catch."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.cluster import Leftovers
from tests.cluster.services import RedisServer


@pytest.mark.usefixtures("cluster_parts")
def test_a_server_still_running_is_reported_and_a_stopped_one_is_not(tmp_path: Path) -> None:
    leftovers = Leftovers()
    with leftovers.watch(RedisServer(tmp_path)) as redis:
        assert redis.process is not None
        with pytest.raises(AssertionError, match="left behind"):
            leftovers.check()
    leftovers.check()

"""Forgetting every token a test's process holds: in memory, and in the host's token store.

Test code never touches the store of the machine's real user: where no test fixture chose one
(the soak and the hostile-server catalogue run as scripts too), a throwaway folder is chosen here.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from airflow_provider_aep.client.ims import token_cache
from airflow_provider_aep.hooks.token_sharing import shared_token_store

if "AIRFLOW__AEP__TOKEN_STORE_PATH" not in os.environ:
    _THROWAWAY = tempfile.mkdtemp(prefix="aep-test-host-")
    atexit.register(shutil.rmtree, _THROWAWAY, ignore_errors=True)
    os.environ["AIRFLOW__AEP__TOKEN_STORE_PATH"] = os.path.join(_THROWAWAY, "tokens")


def forget_tokens() -> None:
    """The next request fetches a token from IMS, as in a fresh process on a fresh host."""
    token_cache.clear()
    store = shared_token_store()
    if store is not None:
        shutil.rmtree(store.directory, ignore_errors=True)

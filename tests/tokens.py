"""Forgetting every token a test's process holds: in memory, and in the host's token store."""

from __future__ import annotations

import shutil

from airflow_provider_aep.client.ims import token_cache
from airflow_provider_aep.hooks.token_sharing import shared_token_store


def forget_tokens() -> None:
    """The next request fetches a token from IMS, as in a fresh process on a fresh host."""
    token_cache.clear()
    store = shared_token_store()
    if store is not None:
        shutil.rmtree(store.directory, ignore_errors=True)

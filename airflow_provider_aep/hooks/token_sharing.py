"""Which token store the processes of this host share, from the ``[aep]`` section of Airflow's config.

Read where a process misses its in-memory token, not at import, so a deployment's setting (or a
component's own environment variable) applies however the process was started.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from airflow.providers.common.compat.sdk import conf

from airflow_provider_aep.client.token_store import TokenStore
from airflow_provider_aep.config import SECTION, SHARE_TOKENS, TOKEN_STORE_PATH


def default_token_store_path() -> Path:
    """Under the user's cache folder (``$XDG_CACHE_HOME``, else ``~/.cache``).

    Private to the user Airflow runs as, and per machine (per pod on Kubernetes).
    """
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "airflow-provider-aep" / "ims-tokens"


def shared_token_store() -> TokenStore | None:
    """The store ``[aep] token_store_path`` names, or None where ``[aep] share_tokens`` is off."""
    if not conf.getboolean(SECTION, SHARE_TOKENS, fallback=True):
        return None
    configured = conf.get(SECTION, TOKEN_STORE_PATH, fallback="")
    # Absolute, so that every process of the host finds the same folder whatever its working directory.
    return _store_at(os.path.abspath(os.path.expanduser(configured)) if configured else str(default_token_store_path()))


@functools.cache
def _store_at(path: str) -> TokenStore:
    """One store per directory in a process, so a store that failed warns once and stays off."""
    return TokenStore(Path(path))

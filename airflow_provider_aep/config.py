"""The provider's section of Airflow's configuration, ``[aep]``.

Declared once, for Airflow's ``airflow config`` listing (through the provider info) and for the
code that reads it.
"""

from __future__ import annotations

from typing import Any

SECTION = "aep"
SHARE_TOKENS = "share_tokens"
TOKEN_STORE_PATH = "token_store_path"

PROVIDER_CONFIG: dict[str, Any] = {
    SECTION: {
        "description": "Adobe Experience Platform provider settings, per host.\n",
        "options": {
            SHARE_TOKENS: {
                "description": (
                    "Share IMS access tokens between the processes of this host, sealed in files that only holders "
                    "of the client secret can read, so that task processes do not each ask IMS for one.\n"
                ),
                "version_added": "0.1.0",
                "type": "boolean",
                "example": "False",
                "default": "True",
            },
            TOKEN_STORE_PATH: {
                "description": (
                    "The folder of the shared tokens, private to the user Airflow runs as (mode 0700). Empty: "
                    "$XDG_CACHE_HOME/airflow-provider-aep/ims-tokens, else ~/.cache/airflow-provider-aep/ims-tokens. "
                    "A volume shared by several machines or pods shares their tokens.\n"
                ),
                "version_added": "0.1.0",
                "type": "string",
                "example": "/var/lib/airflow/aep-tokens",
                "default": "",
            },
        },
    }
}

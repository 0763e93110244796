"""The connection form, declared once, so that the two Airflow UIs cannot drift apart.

Airflow 3 reads it from the provider info, Airflow 2.11 from the hook's widget methods.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_aep.hooks.connection import (
    DEFAULT_GATEWAY_URL,
    DEFAULT_IMS_TOKEN_URL,
    DEFAULT_SANDBOX,
    DEFAULT_SCOPES,
    ORG_ID_PATTERN,
    UI_TENANT_PATTERN,
)

_SECRET_HINT = "Stored encrypted by Airflow and never logged by this provider."

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "org_id": {
        "label": "IMS organisation ID",
        "description": "Sent as x-gw-ims-org-id, e.g. 1BD6382559DF0C130A49422D@AdobeOrg.",
        "schema": {"type": "string", "pattern": ORG_ID_PATTERN},
    },
    "sandbox": {
        "label": "Sandbox name",
        "description": "Sent as x-sandbox-name; the all-lowercase sandbox name.",
        "schema": {"type": ["string", "null"], "default": DEFAULT_SANDBOX},
    },
    "scopes": {
        "label": "OAuth scopes",
        "description": "Comma-separated scopes of the OAuth Server-to-Server credential.",
        "schema": {"type": ["string", "null"], "default": DEFAULT_SCOPES},
    },
    # Not "ims_token_url": Airflow masks any field named like a token as a secret.
    "ims_url": {
        "label": "IMS token endpoint",
        "description": "Adobe IMS token endpoint (https only, except loopback for the simulator).",
        "schema": {"type": ["string", "null"], "default": DEFAULT_IMS_TOKEN_URL},
    },
    "ui_tenant": {
        "label": "Experience Cloud tenant",
        "description": (
            "Optional: the name after #/@ in your Experience Cloud addresses, e.g. acme. The task's "
            "AEP dataset link uses it; without it, the link names the organisation by its ID."
        ),
        "schema": {"type": ["string", "null"], "pattern": UI_TENANT_PATTERN},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port"],
    "relabeling": {
        "host": "Platform gateway URL",
        "login": "Client ID (API key)",
        "password": "Client secret",
    },
    "placeholders": {
        "host": DEFAULT_GATEWAY_URL,
        "login": "OAuth Server-to-Server client ID",
        "password": _SECRET_HINT,
        "extra": '{"org_id": "1BD6382559DF0C130A49422D@AdobeOrg", "sandbox": "prod"}',
    },
}

"""What Airflow's providers manager reads: modules, the connection type and its form."""

from __future__ import annotations

from typing import Any

from airflow_provider_aep import __version__
from airflow_provider_aep.hooks.connection_settings import (
    CONNECTION_TYPE,
    DEFAULT_GATEWAY_URL,
    DEFAULT_IMS_TOKEN_URL,
    DEFAULT_SANDBOX,
    DEFAULT_SCOPES,
)

_INTEGRATION = "Adobe Experience Platform"
_SECRET_HINT = "Stored encrypted by Airflow and never logged by this provider."


def get_provider_info() -> dict[str, Any]:
    # Kept free of heavy imports: Airflow calls this in every process that lists providers.
    return {
        "package-name": "airflow-provider-aep",
        "name": _INTEGRATION,
        "description": "Export Adobe Experience Platform segment (audience) members into AEP datasets.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://experienceleague.adobe.com/en/docs/experience-platform/segmentation/api/export-jobs",
                "tags": ["service"],
            }
        ],
        "operators": [
            {"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_aep.operators.export_job"]}
        ],
        "sensors": [{"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_aep.sensors.export_job"]}],
        "hooks": [{"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_aep.hooks.aep"]}],
        "triggers": [
            {"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_aep.triggers.export_job"]}
        ],
        "connection-types": [
            {
                "connection-type": CONNECTION_TYPE,
                "hook-class-name": "airflow_provider_aep.hooks.aep.AdobeExperiencePlatformHook",
                "hook-name": "Adobe Experience Platform",
                "conn-fields": {
                    "org_id": {
                        "label": "IMS organisation ID",
                        "description": "Sent as x-gw-ims-org-id, e.g. 1BD6382559DF0C130A49422D@AdobeOrg.",
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9]+@AdobeOrg$"},
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
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
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
                },
            }
        ],
    }

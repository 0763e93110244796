"""What Airflow's providers manager reads: modules, the connection type and its form."""

from __future__ import annotations

from typing import Any

from airflow_provider_aep import __version__
from airflow_provider_aep.config import PROVIDER_CONFIG
from airflow_provider_aep.hooks.connection import CONNECTION_TYPE
from airflow_provider_aep.hooks.connection_form import CONN_FIELDS, UI_FIELD_BEHAVIOUR

_INTEGRATION = "Adobe Experience Platform"
# One entry for both names: Airflow 3 reads "asset-uris", Airflow 2.11 "dataset-uris".
_AEP_DATASET_URIS = [
    {
        "schemes": ["aep"],
        "handler": "airflow_provider_aep.assets.sanitize_uri",
        "to_openlineage_converter": "airflow_provider_aep.assets.convert_asset_to_openlineage",
    }
]


def get_provider_info() -> dict[str, Any]:
    """Register the provider with Airflow; free of heavy imports, as every process listing providers calls it."""
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
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_aep.operators.dataset",
                    "airflow_provider_aep.operators.export_job",
                ],
            }
        ],
        "sensors": [{"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_aep.sensors.export_job"]}],
        "hooks": [{"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_aep.hooks.aep"]}],
        "triggers": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_aep.triggers.batches",
                    "airflow_provider_aep.triggers.export_job",
                    "airflow_provider_aep.triggers.new_batches",
                    "airflow_provider_aep.triggers.succeeded_exports",
                ],
            }
        ],
        "transfers": [
            {
                "source-integration-name": _INTEGRATION,
                "target-integration-name": "Common IO",
                "python-module": "airflow_provider_aep.transfers.export_to_object_storage",
            }
        ],
        "extra-links": ["airflow_provider_aep.links.dataset.AepDatasetLink"],
        "config": PROVIDER_CONFIG,
        "asset-uris": _AEP_DATASET_URIS,
        "dataset-uris": _AEP_DATASET_URIS,
        "connection-types": [
            {
                "connection-type": CONNECTION_TYPE,
                "hook-class-name": "airflow_provider_aep.hooks.aep.AdobeExperiencePlatformHook",
                "hook-name": "Adobe Experience Platform",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": {
                    "hidden-fields": UI_FIELD_BEHAVIOUR["hidden_fields"],
                    "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
                    "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
                },
            }
        ],
    }

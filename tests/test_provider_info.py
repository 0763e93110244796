"""Airflow itself discovers the provider, its hook and its connection form."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
from airflow.providers_manager import ProvidersManager

from airflow_provider_aep import __version__
from airflow_provider_aep.assets import sanitize_uri
from airflow_provider_aep.get_provider_info import get_provider_info
from tests.airflow_compat import AIRFLOW_V_3

CONN_TYPE = "adobe_experience_platform"


@pytest.fixture(scope="module")
def manager() -> ProvidersManager:
    return ProvidersManager()


def test_provider_info_passes_airflows_schema() -> None:
    schema = json.loads(resources.files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_providers_manager_lists_the_provider(manager: ProvidersManager) -> None:
    provider = manager.providers["airflow-provider-aep"]
    assert provider.version == __version__


def test_hook_is_registered_for_the_connection_type(manager: ProvidersManager) -> None:
    if AIRFLOW_V_3:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        hook = ProvidersManagerTaskRuntime().hooks[CONN_TYPE]
    else:
        hook = manager.hooks[CONN_TYPE]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_aep.hooks.aep.AdobeExperiencePlatformHook"
    assert hook.connection_id_attribute_name == "aep_conn_id"
    assert hook.hook_name == "Adobe Experience Platform"


def test_connection_form_fields_and_behaviour(manager: ProvidersManager) -> None:
    widgets = {
        name.removeprefix(f"extra__{CONN_TYPE}__"): widget
        for name, widget in manager.connection_form_widgets.items()
        if name.startswith(f"extra__{CONN_TYPE}__")
    }
    assert set(widgets) == {"org_id", "sandbox", "scopes", "ims_url", "ui_tenant"}
    # No extra with a default may be named like a secret: Airflow would mask its value as ***.
    assert not [name for name, widget in widgets.items() if widget.is_sensitive or "token" in name]
    if AIRFLOW_V_3:  # declarative conn-fields
        assert widgets["sandbox"].field["value"] == "prod"
        assert widgets["org_id"].field["schema"]["title"] == "IMS organisation ID"
    else:  # WTForms fields from the hook's get_connection_form_widgets()
        assert widgets["sandbox"].field.kwargs["default"] == "prod"
        assert widgets["org_id"].field.args[0] == "IMS organisation ID"
    behaviour = manager.field_behaviours[CONN_TYPE]
    assert set(behaviour["hidden_fields"]) == {"schema", "port"}
    assert behaviour["relabeling"]["password"] == "Client secret"
    assert behaviour["relabeling"]["login"] == "Client ID (API key)"


def test_dataset_link_is_registered(manager: ProvidersManager) -> None:
    assert "airflow_provider_aep.links.dataset.AepDatasetLink" in manager.extra_links_class_names


def test_aep_uri_scheme_has_the_providers_normaliser(manager: ProvidersManager) -> None:
    if AIRFLOW_V_3:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        handlers = ProvidersManagerTaskRuntime().asset_uri_handlers
    else:
        handlers = manager.dataset_uri_handlers
    assert handlers["aep"] is sanitize_uri

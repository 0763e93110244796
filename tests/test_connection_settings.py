"""A connection is validated field by field, naming the field and the connection, before any request."""

from __future__ import annotations

import re
from typing import Any

import pytest

from airflow_provider_aep.exceptions import AepConfigError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.hooks.connection import DEFAULT_IMS_TOKEN_URL, DEFAULT_SCOPES, AepConnectionSettings
from airflow_provider_aep.simulator import SimulatorServer

from .conftest import set_connection

GOOD: dict[str, Any] = {
    "conn_type": "adobe_experience_platform",
    "login": "client-id",
    "password": "s3cr3t-value",
    "extra": {"org_id": "1BD6382559DF0C130A49422D@AdobeOrg"},
}


def settings_for(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> AepConnectionSettings:
    fields = {**GOOD, **changes}
    set_connection(monkeypatch, "aep_test", {key: value for key, value in fields.items() if value is not None})
    return AdobeExperiencePlatformHook("aep_test").settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(monkeypatch)
    assert settings.gateway_url == "https://platform.adobe.io"
    assert settings.sandbox == "prod"
    assert settings.scopes == DEFAULT_SCOPES
    assert settings.ims_token_url == DEFAULT_IMS_TOKEN_URL
    assert "s3cr3t-value" not in repr(settings)


def test_host_without_scheme_gets_https_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(monkeypatch, host="platform-stage.adobe.io", port=8443)
    assert settings.gateway_url == "https://platform-stage.adobe.io:8443"


def test_prefixed_extra_keys_from_the_ui_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"extra__adobe_experience_platform__org_id": "ABC@AdobeOrg", "sandbox": "dev-1"}
    settings = settings_for(monkeypatch, extra=extra)
    assert (settings.org_id, settings.sandbox) == ("ABC@AdobeOrg", "dev-1")


def test_links_name_the_organisation_by_its_tenant_where_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_for(monkeypatch).ui_organisation == "1BD6382559DF0C130A49422D@AdobeOrg"
    settings = settings_for(monkeypatch, extra={**GOOD["extra"], "ui_tenant": " acme-eu "})
    assert (settings.ui_tenant, settings.ui_organisation) == ("acme-eu", "acme-eu")


def test_scopes_are_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(monkeypatch, extra={**GOOD["extra"], "scopes": "openid, AdobeID ,read_organizations"})
    assert settings.scopes == "openid,AdobeID,read_organizations"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"login": None}, "field 'login' is required"),
        ({"login": "  "}, "field 'login' is required"),
        ({"password": None}, "field 'password' is required"),
        ({"extra": {}}, "field 'extra.org_id' is required"),
        ({"extra": {"org_id": "not-an-org"}}, "field 'extra.org_id' must look like"),
        ({"extra": {"org_id": "A@AdobeOrg", "sandbox": "Prod"}}, "field 'extra.sandbox' must be a lowercase"),
        ({"extra": {"org_id": "A@AdobeOrg", "scopes": "openid,,AdobeID"}}, "field 'extra.scopes'"),
        ({"extra": {"org_id": "A@AdobeOrg", "scopes": "openid AdobeID"}}, "field 'extra.scopes'"),
        ({"extra": {"org_id": "A@AdobeOrg", "sandbox": 7}}, "field 'extra.sandbox' must be a string"),
        ({"extra": {"org_id": "A@AdobeOrg", "ui_tenant": "acme corp"}}, "field 'extra.ui_tenant' must be"),
        ({"host": "http://platform.adobe.io"}, "field 'host' uses plain http:// to 'platform.adobe.io'"),
        ({"host": "http://10.0.0.5:8080"}, "field 'host' uses plain http://"),
        ({"host": "ftp://platform.adobe.io"}, "field 'host' must be an https:// URL"),
        (
            {"extra": {"org_id": "A@AdobeOrg", "ims_url": "http://ims.example.com/token"}},
            "field 'extra.ims_url' uses plain http://",
        ),
    ],
)
def test_bad_connection_fields_are_named(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(AepConfigError, match=re.escape(message)) as raised:
        settings_for(monkeypatch, **changes)
    assert "Connection 'aep_test'" in str(raised.value)
    assert "s3cr3t-value" not in str(raised.value)


@pytest.mark.parametrize("host", ["http://127.0.0.1:8085", "http://localhost:8085", "http://[::1]:8085"])
def test_plain_http_is_allowed_to_loopback(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    assert settings_for(monkeypatch, host=host).gateway_url == host


def test_bad_connection_fails_before_any_request(simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    fields = simulator.connection()
    fields.pop("conn_id")
    fields["extra"] = {**fields["extra"], "org_id": ""}
    set_connection(monkeypatch, "aep_bad", fields)
    with pytest.raises(AepConfigError, match=r"Connection .aep_bad.: field .extra\.org_id. is required"):
        AdobeExperiencePlatformHook("aep_bad").list_export_jobs()
    assert simulator.state.count("requests") == 0


def test_ims_url_also_read_under_the_name_json_users_may_know(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {**GOOD["extra"], "ims_token_url": "https://ims-na1-stg1.adobelogin.com/ims/token/v3"}
    assert settings_for(monkeypatch, extra=extra).ims_token_url == extra["ims_token_url"]

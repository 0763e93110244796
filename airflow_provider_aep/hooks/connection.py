"""An Airflow connection turned into the client's settings, checked in full before any request."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Protocol
from urllib.parse import urlsplit

from airflow_provider_aep.client.settings import AepConnectionSettings
from airflow_provider_aep.exceptions import AepConfigError
from airflow_provider_aep.identifiers import shown

CONNECTION_TYPE = "adobe_experience_platform"
DEFAULT_GATEWAY_URL = "https://platform.adobe.io"
DEFAULT_SANDBOX = "prod"
DEFAULT_SCOPES = "openid,session,AdobeID,read_organizations,additional_info.projectedProductContext"
DEFAULT_IMS_TOKEN_URL = "https://ims-na1.adobelogin.com/ims/token/v3"

# Patterns the connection form shows as well, so that form and validation cannot disagree.
ORG_ID_PATTERN = r"^[A-Za-z0-9]+@AdobeOrg$"
# The organisation's name in Experience Cloud addresses (https://experience.adobe.com/#/@acme/...).
UI_TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"

_ORG_ID = re.compile(ORG_ID_PATTERN)
_SANDBOX = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SCOPE = re.compile(r"^[A-Za-z0-9_.:-]+$")
_UI_TENANT = re.compile(UI_TENANT_PATTERN)
# Goes into the x-api-key header and the token form: printable ASCII, nothing a header cannot carry.
_CLIENT_ID = re.compile(r"[\x21-\x7e]+")
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f-\x9f]")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class ConnectionLike(Protocol):
    """The parts of ``airflow.sdk.Connection`` read here (keeps this module Airflow-version free)."""

    conn_id: str
    host: str | None
    login: str | None
    password: str | None
    port: int | None

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """The JSON extras, where the AEP-only fields (org, sandbox, scopes, IMS URL) live."""


def connection_settings(conn: ConnectionLike) -> AepConnectionSettings:
    """Raise ``AepConfigError`` naming the bad field, rather than let it fail a request later on."""
    conn_id = conn.conn_id
    extra = conn.extra_dejson
    if not isinstance(extra, dict):
        raise AepConfigError(f"Connection '{conn_id}': field 'extra' must be a JSON object")

    def extra_value(name: str, default: str = "") -> str:
        # The Airflow UI of some versions stores form fields under a prefixed key.
        value = extra.get(name, extra.get(f"extra__{CONNECTION_TYPE}__{name}"))
        if value is None or value == "":
            return default
        if not isinstance(value, str):
            raise AepConfigError(
                f"Connection '{conn_id}': field 'extra.{name}' must be a string, got {type(value).__name__}"
            )
        return value.strip()

    return AepConnectionSettings(
        conn_id=conn_id,
        gateway_url=_checked_url(conn_id, "host", _gateway_url(conn_id, conn.host, conn.port)),
        client_id=_client_id(conn_id, conn.login),
        client_secret=_required(conn_id, "password", conn.password, "the OAuth client secret"),
        org_id=_org_id(conn_id, extra_value("org_id")),
        sandbox=_sandbox(conn_id, extra_value("sandbox", DEFAULT_SANDBOX)),
        scopes=_scopes(conn_id, extra_value("scopes", DEFAULT_SCOPES)),
        # "ims_url" in the form: Airflow masks any field whose name contains "token" as a
        # secret, which would show the URL as *** and save it so. JSON extras may say ims_token_url.
        ims_token_url=_checked_url(
            conn_id, "extra.ims_url", extra_value("ims_url", extra_value("ims_token_url", DEFAULT_IMS_TOKEN_URL))
        ),
        ui_tenant=_ui_tenant(conn_id, extra_value("ui_tenant")),
    )


def _required(conn_id: str, name: str, value: str | None, meaning: str) -> str:
    if value is None or not value.strip():
        raise AepConfigError(f"Connection '{conn_id}': field '{name}' is required ({meaning})")
    return value.strip()


def _client_id(conn_id: str, value: str | None) -> str:
    value = _required(conn_id, "login", value, "the OAuth Server-to-Server client id")
    if not _CLIENT_ID.fullmatch(value):
        raise AepConfigError(
            f"Connection '{conn_id}': field 'login' (the client id) must be printable ASCII without spaces, "
            f"got {shown(value)}"
        )
    return value


def _org_id(conn_id: str, value: str) -> str:
    value = _required(conn_id, "extra.org_id", value, "the IMS organisation id, e.g. 1BD6382559DF0C130A49422D@AdobeOrg")
    if not _ORG_ID.match(value):
        raise AepConfigError(
            f"Connection '{conn_id}': field 'extra.org_id' must look like 1BD6382559DF0C130A49422D@AdobeOrg, "
            f"got {value!r}"
        )
    return value


def _sandbox(conn_id: str, value: str) -> str:
    if not _SANDBOX.match(value):
        raise AepConfigError(
            f"Connection '{conn_id}': field 'extra.sandbox' must be a lowercase sandbox name such as 'prod', "
            f"got {value!r}"
        )
    return value


def _ui_tenant(conn_id: str, value: str) -> str | None:
    if not value:
        return None
    if not _UI_TENANT.match(value):
        raise AepConfigError(
            f"Connection '{conn_id}': field 'extra.ui_tenant' must be the organisation's name as it appears after "
            f"'#/@' in Experience Cloud addresses, such as 'acme', got {shown(value)}"
        )
    return value


def _scopes(conn_id: str, value: str) -> str:
    scopes = [scope.strip() for scope in value.split(",")]
    bad = [scope for scope in scopes if not _SCOPE.match(scope)]
    if bad:
        raise AepConfigError(
            f"Connection '{conn_id}': field 'extra.scopes' must be comma-separated scope names, bad entries: {bad!r}"
        )
    return ",".join(scopes)


def _gateway_url(conn_id: str, host: str | None, port: int | None) -> str:
    if not host or not host.strip():
        return DEFAULT_GATEWAY_URL
    host = host.strip().rstrip("/")
    if "://" not in host:
        host = f"https://{host}"
    if port and not _UNSAFE_IN_URL.search(host):
        parts = urlsplit(host)
        if parts.port is None and parts.netloc:
            host = parts._replace(netloc=f"{parts.netloc}:{port}").geturl()
    return host


def _checked_url(conn_id: str, name: str, url: str) -> str:
    """A scheme, a host, optionally a port and a path prefix, and nothing else.

    User info would make httpx send Basic auth in place of the bearer token (and show the password
    in errors); a query or a fragment would end up inside every request path. Credentials go over
    https only, except to this machine (the offline simulator).
    """
    subject = f"Connection '{conn_id}': field '{name}'"
    if _UNSAFE_IN_URL.search(url):
        raise AepConfigError(f"{subject} must not contain spaces or control characters, got {shown(url)}")
    parts = urlsplit(url)
    try:
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        hostname = None
    if parts.scheme not in ("http", "https") or not hostname:
        raise AepConfigError(f"{subject} must be an https:// URL, got {shown(url)}")
    if "@" in parts.netloc:
        raise AepConfigError(
            f"{subject} must not carry a user name or password (user@host); the client id and secret "
            "belong in the login and password fields"
        )
    if "?" in url or "#" in url:
        raise AepConfigError(f"{subject} must be a base URL without a query or fragment, got {shown(url)}")
    if parts.scheme == "http" and not _is_loopback(hostname):
        raise AepConfigError(
            f"{subject} uses plain http:// to {hostname!r}; credentials are only "
            "sent over https:// (http:// is allowed for loopback hosts such as 127.0.0.1)"
        )
    return url.rstrip("/")


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False

"""The "AEP dataset" button: one click from an export task to the dataset it writes.

The task writes the URL to XCom itself as soon as it knows the dataset, before it defers. Airflow 3
asks a link for its URL once, when a worker run ends (the run that defers included), and serves
what it got then; this link answers with what the task stored, so it must be stored by that point
for the button to show while the task waits. Airflow 2.11's webserver reads it through
``get_link``. Adobe documents no UI address for a single export job, so there is no job link (see
docs/reference.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.providers.common.compat.sdk import BaseOperatorLink, Context, XCom

from airflow_provider_aep.scrubbing import describe

if TYPE_CHECKING:  # the UI loads this module for the link alone; the hook is only an argument type
    from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook

# Experience Cloud's single-page app; everything after "#" is routed in the browser.
EXPERIENCE_CLOUD_URL = "https://experience.adobe.com"


def dataset_page_url(tenant: str, sandbox: str, dataset_id: str) -> str:
    """The dataset's page in Experience Platform, in its sandbox.

    Experience Cloud addresses name the organisation after ``@`` (its tenant) and the sandbox after
    ``sname:``. Every part is percent-encoded, as the dataset id may come from the server; only an
    org id's own ``@`` is kept, which a URL fragment allows.
    """
    return (
        f"{EXPERIENCE_CLOUD_URL}/#/@{quote(tenant, safe='@')}/sname:{quote(sandbox, safe='')}"
        f"/platform/dataset/browse/{quote(dataset_id, safe='')}"
    )


class AepDatasetLink(BaseOperatorLink):
    """Opens the export's destination dataset in the Experience Platform UI."""

    name = "AEP dataset"

    @property
    def xcom_key(self) -> str:
        """Airflow 3's own key for this link, spelt out because Airflow 2.11 has no such property."""
        return f"_link_{type(self).__name__}"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """The URL the task stored; empty (no button) before the dataset is known."""
        url = XCom.get_value(key=self.xcom_key, ti_key=ti_key)
        return url if isinstance(url, str) else ""

    def persist(self, context: Context, url: str) -> None:
        """Store the URL for this task instance, so that the button shows while the task waits."""
        context["ti"].xcom_push(key=self.xcom_key, value=url)


def show_dataset(context: Context, hook: AdobeExperiencePlatformHook, dataset_id: str, log: Any) -> bool:
    """Store the "AEP dataset" link of ``dataset_id`` for the running task: the one way every task does.

    A link is a convenience: failing to store one is logged and never fails the task. Returns
    whether it was stored.
    """
    try:
        settings = hook.settings
        AepDatasetLink().persist(context, dataset_page_url(settings.ui_organisation, settings.sandbox, dataset_id))
    except Exception as error:
        log.warning("Could not store the AEP dataset link of dataset %s: %s", dataset_id, describe(error))
        return False
    return True

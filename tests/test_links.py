"""The AEP dataset link's address: one format, every part encoded, whatever the server sent."""

from __future__ import annotations

from airflow_provider_aep.links.dataset import AepDatasetLink, dataset_page_url


def test_dataset_page_address() -> None:
    assert dataset_page_url("acme", "dev-1", "5b7c86968f7b6501e21ba9df") == (
        "https://experience.adobe.com/#/@acme/sname:dev-1/platform/dataset/browse/5b7c86968f7b6501e21ba9df"
    )


def test_an_org_id_keeps_its_at_sign() -> None:
    url = dataset_page_url("1BD6382559DF0C130A49422D@AdobeOrg", "prod", "ds")
    assert url.startswith("https://experience.adobe.com/#/@1BD6382559DF0C130A49422D@AdobeOrg/sname:prod/")


def test_a_hostile_dataset_id_cannot_leave_its_place_in_the_address() -> None:
    url = dataset_page_url("acme", "prod", "../../admin?next=https://evil.example/#x y")
    assert url == (
        "https://experience.adobe.com/#/@acme/sname:prod/platform/dataset/browse/"
        "..%2F..%2Fadmin%3Fnext%3Dhttps%3A%2F%2Fevil.example%2F%23x%20y"
    )


def test_the_link_is_stored_under_airflows_own_key() -> None:
    link = AepDatasetLink()
    assert (link.name, link.xcom_key) == ("AEP dataset", "_link_AepDatasetLink")

"""The base of every record Platform returns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiRecord(BaseModel):
    """Platform's camelCase names, read by alias or by Python name; read-only once parsed.

    Fields this provider does not know are kept (``model_extra``) rather than rejected: Adobe adds
    fields, and a record that gained one must still parse.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="allow",
        frozen=True,
    )

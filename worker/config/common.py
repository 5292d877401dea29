"""What every config section shares: the frozen base model, the secret key names and small field validators."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

API_VERSION = re.compile(r"^v\d{2}\.\d$")
SECRET_KEYS = frozenset({"Password", "client_secret", "refresh_token", "pos_secret", "api_key", "token"})
# Lists of secrets: ``<key>_file`` holds one per line (``worker.spi.api_keys_file``)
SECRET_LIST_KEYS = frozenset({"api_keys"})


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


def check_api_version(value: str) -> str:
    if not API_VERSION.match(value):
        raise ValueError(f'expected vNN.N, got "{value}"')
    return value


POS_VALUE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def check_pos_value(value: str | None) -> str | None:
    if value is not None and not POS_VALUE.match(value):
        raise ValueError(f'expected a POS value such as PICKUP_IN_STORE (upper case, digits, _), got "{value}"')
    return value

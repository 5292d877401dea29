"""worker.spi.api_keys_file: the SPI keys as a file-only secret (one key per line), with clear, key-free errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from worker.config_load import parse_config, redacted
from worker.config_schema import config_schema
from worker.errors import ConfigError

from .test_config import BASE

KEYS_TEXT = "# production\nspi-key-prod-1\n\n  spi-key-staging-2  \r\n   # a comment, indented\n\n"


def with_spi(spi: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["worker"]["spi"] = spi
    return data


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, {})
    return info.value.problems


def test_keys_are_read_one_per_line(tmp_path: Path) -> None:
    """Each non-blank, non-comment line is one key, stripped of surrounding blanks (CRLF too)."""
    path = tmp_path / "spi_api_keys"
    path.write_text(KEYS_TEXT, encoding="utf-8")
    config = parse_config(with_spi({"api_keys_file": str(path)}), {})
    assert [key.get_secret_value() for key in config.worker.spi.api_keys] == ["spi-key-prod-1", "spi-key-staging-2"]


def test_keys_from_the_file_are_secrets_everywhere(tmp_path: Path) -> None:
    """Keys read from the file are masked by the log redactor list and in the effective (redacted) config."""
    path = tmp_path / "spi_api_keys"
    path.write_text(KEYS_TEXT, encoding="utf-8")
    config = parse_config(with_spi({"api_keys_file": str(path)}), {})
    assert {"spi-key-prod-1", "spi-key-staging-2"} <= set(config.secret_values())
    shown = json.dumps(redacted(config))
    assert "spi-key" not in shown and "api_keys_file" not in shown


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A file that cannot be read is reported as `worker.spi.api_keys_file: cannot read secret file ...`."""
    missing = tmp_path / "nope"
    assert problems_of(with_spi({"api_keys_file": str(missing)})) == [
        f"worker.spi.api_keys_file: cannot read secret file {missing}: No such file or directory"]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n  \n#another\n"])
def test_a_file_without_keys_is_a_clear_error(tmp_path: Path, text: str) -> None:
    """An empty or comments-only file is refused (it would silently turn every SPI call into a 401)."""
    path = tmp_path / "spi_api_keys"
    path.write_text(text, encoding="utf-8")
    [problem] = problems_of(with_spi({"api_keys_file": str(path)}))
    assert problem.startswith(f"worker.spi.api_keys_file: no key in {path} (one key per line")


def test_keys_and_keys_file_together_are_refused(tmp_path: Path) -> None:
    """Setting both api_keys and api_keys_file is an error naming the key, without any key value."""
    path = tmp_path / "spi_api_keys"
    path.write_text("spi-key-from-file\n", encoding="utf-8")
    [problem] = problems_of(with_spi({"api_keys": ["spi-key-inline"], "api_keys_file": str(path)}))
    assert problem == "worker.spi.api_keys_file: set either api_keys or api_keys_file, not both"


def test_errors_never_print_a_key(tmp_path: Path) -> None:
    """A key of the wrong type, or a file whose path interpolation fails, never shows a key in the message."""
    problems = problems_of(with_spi({"api_keys": [12345678]}))
    assert problems and not any("12345678" in p for p in problems), problems
    assert problems[0].startswith("worker.spi.api_keys.0: ")


def test_the_schema_knows_api_keys_file() -> None:
    """The JSON Schema accepts api_keys_file (a path) instead of api_keys, and refuses both together."""
    validator = jsonschema.Draft202012Validator(config_schema())
    spi = config_schema()["$defs"]["SpiConfig"]["properties"]["api_keys_file"]
    assert "one per line" in spi["description"]
    assert validator.is_valid(with_spi({"api_keys_file": "/run/secrets/oms/spi_api_keys"}))
    assert not validator.is_valid(with_spi({"api_keys": ["k"], "api_keys_file": "/run/secrets/oms/spi_api_keys"}))


def test_a_file_that_is_not_text_is_a_clear_error(tmp_path: Path) -> None:
    """A secret file that is not UTF-8 is reported, not raised as a traceback, and its bytes are not shown."""
    path = tmp_path / "spi_api_keys"
    path.write_bytes(b"\xff\xfe\x00key")
    assert problems_of(with_spi({"api_keys_file": str(path)})) == [
        f"worker.spi.api_keys_file: cannot read secret file {path}: not UTF-8 text"]

"""``oms-worker`` itself: --version, help texts, OMS_WORKER_CONFIG, health --json, and no traceback ever."""

from __future__ import annotations

import argparse
import json
import socket
from collections.abc import Callable, Iterator

import pytest

from worker import cli
from worker.cli import main


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints 'oms-worker <version>' and exits 0."""
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("oms-worker 0.")


def test_every_option_has_help_and_no_rest_markup() -> None:
    """Every option and argument of every command has a help text; no help shows reST markup (``, :mod:)."""
    for parser in _parsers(cli._parser()):
        for action in parser._actions:
            assert action.help, f"{parser.prog}: {action.dest} has no help"
        text = parser.format_help()
        assert "``" not in text and ":mod:" not in text, parser.prog


def test_config_from_the_environment(config_file: str, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Without --config, OMS_WORKER_CONFIG names the file; with neither it is a usage error (exit 2)."""
    monkeypatch.setenv("OMS_WORKER_CONFIG", config_file)
    assert main(["dlq", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 dead letter(s)"
    monkeypatch.delenv("OMS_WORKER_CONFIG")
    with pytest.raises(SystemExit) as info:
        main(["dlq", "list"])
    assert info.value.code == 2 and "OMS_WORKER_CONFIG" in capsys.readouterr().err


def test_store_down_is_one_line_not_a_traceback(write_config: Callable[[str], str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """dlq list against a PostgreSQL that does not answer: one 'error:' line without the password, exit 1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_config(f"postgresql://oms:pg-secret-pw@127.0.0.1:{port}/oms")
    assert main(["dlq", "list", "-c", config]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "pg-secret-pw" not in err


def test_any_unexpected_failure_is_one_line(config_file: str, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """An unexpected exception (here inside an exception group) ends as one 'error:' line, exit 1, secrets masked."""
    def boom(args: argparse.Namespace) -> int:
        cli._load(args.config)  # registers the config's secrets for masking
        raise ExceptionGroup("tasks", [RuntimeError("broke with pw-secret-123\nsecond line")])

    monkeypatch.setitem(cli.COMMANDS, "run", boom)
    assert main(["run", "-c", config_file]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: RuntimeError: broke with") and err.count("\n") == 1
    assert "pw-secret-123" not in err


def test_health_json_against_a_closed_port(capsys: pytest.CaptureFixture[str]) -> None:
    """health --json prints one JSON object (healthy false, the error) and exits 1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/healthz"
    assert main(["health", "--url", url, "--timeout", "2", "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["url"] == url and answer["healthy"] is False and answer["status"] is None and answer["error"]


def test_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """oms-worker schema prints a JSON Schema of the configuration (exit 0)."""
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert set(schema["properties"]) >= {"salesforce", "auth", "pos", "worker"}

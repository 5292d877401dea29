"""Read the YAML, resolve ``${VAR}`` / ``${VAR:-default}`` and ``<secret>_file`` keys, validate, explain.

``<secret>_file`` holds one secret (one trailing newline dropped); for a list of secrets (``api_keys_file``) it
holds one per line, blank lines and ``#`` comment lines ignored. Every problem becomes one line
``key.path: reason``; nothing here raises a traceback at the user, and no secret is ever part of a message.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError

from worker.config import SECRET_KEYS, SECRET_LIST_KEYS, Config
from worker.errors import ConfigError

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


def _interpolate(value: Any, path: str, env: Mapping[str, str], problems: list[str]) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            key = str(key)
            sub = f"{path}.{key}" if path else key
            out[key] = _interpolate(item, sub, env, problems)
        return _resolve_files(out, path, problems)
    if isinstance(value, list):
        return [_interpolate(item, f"{path}[{i}]", env, problems) for i, item in enumerate(value)]
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append(f"{path}: environment variable {name} is not set")
            return ""

        return _VAR.sub(replace, value)
    return value


def _resolve_files(section: dict[str, Any], path: str, problems: list[str]) -> dict[str, Any]:
    """``Password_file: /run/secrets/sf`` -> ``Password: <file content>`` for secret keys; ``api_keys_file`` ->
    ``api_keys: [<one per line>]`` for lists of secrets."""
    secrets = SECRET_KEYS | SECRET_LIST_KEYS
    for key in [k for k in section if k.endswith("_file") and k[: -len("_file")] in secrets]:
        target = key[: -len("_file")]
        where = f"{path}.{key}" if path else key
        if target in section:
            problems.append(f"{where}: set either {target} or {key}, not both")
            continue
        file_path = section.pop(key)
        try:
            text = Path(str(file_path)).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = (exc.strerror or exc) if isinstance(exc, OSError) else "not UTF-8 text"
            problems.append(f"{where}: cannot read secret file {file_path}: {reason}")
            continue
        if target not in SECRET_LIST_KEYS:
            section[target] = text.rstrip("\r\n")
            continue
        keys = [line.strip() for line in text.splitlines()]
        keys = [line for line in keys if line and not line.startswith("#")]
        if not keys:
            problems.append(f"{where}: no key in {file_path} (one key per line; blank lines and # comments are "
                            "ignored)")
            continue
        section[target] = keys
    return section


def _format(error: Any) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    match = re.match(r"^([A-Za-z_][A-Za-z0-9_.]*): (.*)$", msg, re.S)
    if match:  # a model-level validator naming its field: fold it into the path
        loc, msg = f"{loc}.{match.group(1)}" if loc else match.group(1), match.group(2)
    kind = error["type"]
    if kind == "missing":
        msg = "required key is missing"
    elif kind == "extra_forbidden":
        msg = "unknown key (check the spelling; names are case-sensitive)"
    elif "input" in error and kind not in ("value_error", "assertion_error") and not isinstance(
        error["input"], dict | list
    ):
        shown = error["input"]
        if not _secret(error["loc"]):
            msg = f'{msg}, got "{shown}"'
    return f"{loc or '(top level)'}: {msg}"


def parse_config(raw: Any, env: Mapping[str, str] | None = None) -> Config:
    """Validate an already-loaded YAML document; raise ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(["(top level): expected a mapping with salesforce, auth, pos and worker sections"])
    problems: list[str] = []
    data = _interpolate(raw, "", os.environ if env is None else env, problems)
    if problems:
        raise ConfigError(problems)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    numbers = {e["loc"]: e["input"] for e in errors if e["type"] == "string_type" and _is_number(e.get("input"))}
    if numbers:  # YAML read `ApiVersion: 62` as a number: validate its text, so the field's own check explains
        data = copy.deepcopy(data)
        numbers = {loc: value for loc, value in numbers.items() if _set(data, loc, str(value))}
        try:
            Config.model_validate(data)
            errors = []
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
    problems = [_format(e) for e in errors]
    still = {e["loc"] for e in errors}
    problems += [f"{'.'.join(map(str, loc))}: expected text, got "
                 f"{'a number' if _secret(loc) else f'the number {value}'} (put it in quotes)"
                 for loc, value in numbers.items() if loc not in still]
    raise ConfigError(problems)


def _secret(loc: tuple[int | str, ...]) -> bool:
    """The error location is (inside) a secret, whose value a message must never show."""
    return any(str(part) in SECRET_KEYS | SECRET_LIST_KEYS for part in loc)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _set(data: Any, loc: tuple[int | str, ...], value: str) -> bool:
    """Replace the value at ``loc`` (a pydantic error location) in the raw data; False if it is not a plain path."""
    try:
        for part in loc[:-1]:
            data = data[part]
        key = loc[-1]
        if isinstance(data, list) and isinstance(key, int):
            data[key] = value
            return True
        if isinstance(data, dict) and key in data:
            data[key] = value
            return True
    except (KeyError, IndexError, TypeError):
        pass
    return False


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a YAML config file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{file}: cannot read config file: {exc.strerror or exc}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        hint = " (quote ${VAR} values inside [ ] or { }: \"${VAR}\")" if "${" in text else ""
        raise ConfigError([f"{file}: not valid YAML{where}: {getattr(exc, 'problem', exc)}{hint}"]) from None
    return parse_config(raw, env)


def redacted(config: Config) -> dict[str, Any]:
    """The effective config as plain data, every secret replaced by ``**********``."""

    def scrub(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "**********"
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [scrub(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    dumped: dict[str, Any] = scrub(config.model_dump(mode="python"))
    return dumped

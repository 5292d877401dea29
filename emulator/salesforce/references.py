"""``@{referenceId.path}`` references used by /composite and /composite/graph (case-sensitive walk)."""

from __future__ import annotations

import re
from typing import Any

_REF = re.compile(r"@\{([^}]*)\}")
_REF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class ReferenceError_(Exception):
    """An expression that does not resolve; ``message`` is the PROCESSING_HALTED text Salesforce uses."""

    def __init__(self, expression: str, ref_id: str) -> None:
        super().__init__(expression)
        self.message = (
            f"Invalid reference specified. No value for {expression} found in {ref_id}. Provided referenceId "
            f"('{expression}') must start with a letter or a number, and it can contain only letters, numbers "
            "and underscores ('_')."
        )


def valid_reference_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_REF_ID.match(value))


def referenced_ids(value: Any) -> set[str]:
    """Reference ids mentioned anywhere in a url/body."""
    found: set[str] = set()
    if isinstance(value, str):
        for expression in _REF.findall(value):
            found.add(re.split(r"[.\[]", expression, maxsplit=1)[0])
    elif isinstance(value, dict):
        for item in value.values():
            found |= referenced_ids(item)
    elif isinstance(value, list):
        for item in value:
            found |= referenced_ids(item)
    return found


def walk(expression: str, results: dict[str, Any]) -> Any:
    """Resolve ``refId.a.b[0].c`` against the stored results (keys are case-sensitive)."""
    ref_id = re.split(r"[.\[]", expression, maxsplit=1)[0]
    if ref_id not in results:
        raise ReferenceError_(expression, ref_id)
    value = results[ref_id]
    rest = expression[len(ref_id):]
    pos = 0
    while pos < len(rest):
        if rest[pos] == ".":
            pos += 1
        match = _STEP.match(rest, pos)
        if match is None:
            raise ReferenceError_(expression, ref_id)
        key, index = match.group(1), match.group(2)
        if key is not None and isinstance(value, dict) and key in value:
            value = value[key]
        elif index is not None and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            raise ReferenceError_(expression, ref_id)
        pos = match.end()
    if value is None or isinstance(value, dict | list):
        raise ReferenceError_(expression, ref_id)
    return value


def substitute(value: Any, results: dict[str, Any], *, in_url: bool = False) -> Any:
    """Replace references in strings (recursively in dicts/lists); a whole-string reference keeps its JSON type."""
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole and not in_url:
            return walk(whole.group(1), results)
        return _REF.sub(lambda m: _text(walk(m.group(1), results)), value)
    if isinstance(value, dict):
        return {k: substitute(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, results) for v in value]
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

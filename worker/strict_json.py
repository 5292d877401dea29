"""Strict JSON for request bodies: what the stdlib parser lets through and nothing downstream can handle.

``loads_strict(raw)`` is ``json.loads`` plus these refusals, each a :class:`JsonRejected` naming where
(``orderProductList.0.price``) and why, so the HTTP edge answers 400 instead of crashing later:

* bytes that are not UTF-8 (the stdlib also accepts UTF-16/32 and encoded lone surrogates);
* ``NaN``, ``Infinity``, ``-Infinity`` (not JSON; the store and PostgreSQL ``jsonb`` refuse them);
* nesting deeper than ``max_depth``: measured on the raw text *before* parsing, in C-speed passes (strings
  blanked by a regular expression, then a running bracket count), so a 100,000-deep body never reaches a
  recursive parser; the place is then located by a short token scan of the prefix;
* numbers with more than ``max_digits`` digits (Python refuses ints over 4,300 digits with a bare
  ``ValueError``) and floats that overflow to infinity (``1e400``);
* NUL characters and lone UTF-16 surrogates in strings or keys (``\\u0000``, ``\\ud800``): neither SQLite
  text nor PostgreSQL ``jsonb`` stores them, so they would turn into a "store failed, repost later".

Pure: no I/O, no aiohttp. The extra checks cost nothing on ordinary bodies (the depth pass is a couple of
C calls; the tree is walked only when the parser hooks or a cheap regex saw something suspicious).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32
MAX_DIGITS = 40
_NOT_SKELETON = bytes(range(256)).translate(None, b'"[]{}')  # deleting these leaves quotes and brackets
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_QUOTED = re.compile(rb'"[^"]*"')
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]')
# a NUL or surrogate escape (or an escaped backslash before such text: the walk then finds nothing)
_SUSPICIOUS = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class JsonRejected(ValueError):
    """A body refused by :func:`loads_strict`; ``path`` is dotted (``""`` = the body), ``reason`` says why."""

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path or '(body)'}: {reason}")


class _Refused:
    """Stands in for a value the parser hooks refused; the walk reports it with its path."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def loads_strict(raw: bytes, *, max_depth: int = MAX_DEPTH, max_digits: int = MAX_DIGITS) -> Any:
    """Parse ``raw`` as strict JSON or raise :class:`JsonRejected` (see the module docstring)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonRejected("", f"not valid JSON: not UTF-8 (byte {exc.start})") from None
    check_depth(raw, max_depth)
    refused: list[_Refused] = []

    def refuse(reason: str) -> _Refused:
        marker = _Refused(reason)
        refused.append(marker)
        return marker

    def parse_int(literal: str) -> int | _Refused:
        if len(literal) - literal.startswith("-") > max_digits:
            return refuse(f"number has more than {max_digits} digits")
        return int(literal)

    def parse_float(literal: str) -> float | _Refused:
        if len(literal) > max_digits:  # the exact count only for long literals: the common case stays cheap
            mantissa = re.split(r"[eE]", literal, maxsplit=1)[0]
            if sum(c.isdigit() for c in mantissa) > max_digits:
                return refuse(f"number has more than {max_digits} digits")
        value = float(literal)
        if not math.isfinite(value):
            return refuse(f"number {literal[:20]} is out of range")
        return value

    def parse_constant(name: str) -> _Refused:
        return refuse(f"{name} is not a JSON number")

    try:
        value = json.loads(text, parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant)
    except json.JSONDecodeError as exc:
        raise JsonRejected("", f"not valid JSON: {exc}") from None
    except RecursionError:  # cannot happen after check_depth; kept so a parser change never means a 500
        raise JsonRejected("", f"nested deeper than {max_depth} levels") from None
    if refused or _SUSPICIOUS.search(raw):
        problem = _first_problem(value)
        if problem is not None:
            raise JsonRejected(*problem)
    return value


def check_depth(raw: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`JsonRejected` if brackets outside strings nest deeper than ``max_depth`` (no recursion).

    Escaped backslashes and quotes are dropped, then everything but quotes and brackets; adjacent quote pairs
    and the strings left (those holding brackets) go, leaving the bare bracket skeleton. Each pass then
    removes every innermost ``[]``/``{}`` pair: after ``max_depth`` passes a pair is left only if some
    container nests deeper. An unbalanced skeleton stops the passes early and is left to the parser to report.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return
    quoted = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_SKELETON).replace(b'""', b"")
    skeleton = _QUOTED.sub(b"", quoted).translate(None, _NOT_BRACKETS)
    for _ in range(max_depth):
        if not skeleton:
            return
        inner = skeleton.replace(b"[]", b"").replace(b"{}", b"")
        if inner == skeleton:
            return
        skeleton = inner
    if b"[]" in skeleton or b"{}" in skeleton:
        raise JsonRejected(_path_at_depth(raw, max_depth), f"nested deeper than {max_depth} levels")


def _path_at_depth(raw: bytes, max_depth: int) -> str:
    """The dotted path of the first container opened below ``max_depth`` (a scan of the prefix only)."""
    stack: list[list[Any]] = []  # per open container: [kind, current key or index]
    last_string: bytes | None = None
    for match in _TOKEN.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            if len(stack) >= max_depth:
                break
            stack.append([token, 0 if token == b"[" else None])
        elif token in (b"]", b"}"):
            if stack:
                stack.pop()
        elif token == b",":
            if stack and stack[-1][0] == b"[":
                stack[-1][1] += 1
        elif token == b":":
            if stack and last_string is not None:
                stack[-1][1] = _key_text(last_string)
        else:
            last_string = token
            continue
        last_string = None
    parts = [str(key) for _, key in stack if key is not None]
    shown = ".".join(parts[:8])
    return shown + (".…" if len(parts) > 8 else "")


def _key_text(token: bytes) -> str:
    try:
        key = json.loads(token)
    except ValueError:
        return "?"
    return str(key)[:40]


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate (not valid Unicode)"
    return None


def _first_problem(value: Any) -> tuple[str, str] | None:
    """(path, reason) of the first refused number, NUL or lone surrogate, depth first; iterative."""
    todo: list[tuple[tuple[str, ...], Any]] = [((), value)]
    while todo:
        path, item = todo.pop()
        if isinstance(item, _Refused):
            return ".".join(path), item.reason
        if isinstance(item, str):
            problem = _string_problem(item)
            if problem:
                return ".".join(path), problem
        elif isinstance(item, dict):
            children: list[tuple[tuple[str, ...], Any]] = []
            for key, child in item.items():
                problem = _string_problem(key)
                if problem:
                    return ".".join(path), f"a key {problem}"
                children.append(((*path, key), child))
            todo.extend(reversed(children))
        elif isinstance(item, list):
            todo.extend(((*path, str(i)), child) for i, child in reversed(list(enumerate(item))))
    return None

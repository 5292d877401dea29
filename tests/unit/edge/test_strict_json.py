"""worker.strict_json: what the strict parser refuses (with the path and why) and what it keeps exactly."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from worker.strict_json import MAX_DEPTH, JsonRejected, check_depth, loads_strict


@pytest.mark.parametrize(
    ("raw", "path", "words"),
    [
        (b'{"a": NaN}', "a", "NaN is not a JSON number"),
        (b'{"a": [1, Infinity]}', "a.1", "Infinity"),
        (b'{"a": {"b": -Infinity}}', "a.b", "-Infinity"),
        (b'{"total": 1e400}', "total", "out of range"),
        (b'{"total": -1e400}', "total", "out of range"),
        (b'{"n": ' + b"9" * 41 + b"}", "n", "more than 40 digits"),
        (b'{"n": -' + b"9" * 41 + b"}", "n", "more than 40 digits"),
        (b'{"n": ' + b"9" * 5000 + b"}", "n", "more than 40 digits"),
        (b'{"n": 0.' + b"1" * 60 + b"}", "n", "more than 40 digits"),
        (b'{"lines": [{"x": "a\\u0000b"}]}', "lines.0.x", "NUL"),
        (b'{"x": "\\ud800"}', "x", "surrogate"),
        (b'{"x": "\\udfff\\ud800"}', "x", "surrogate"),
        (b'{"x": "a\\ud83d"}', "x", "surrogate"),
        (b'{"a\\u0000": 1}', "", "key contains a NUL"),
        (b'{"deep": ' + b"[" * 40 + b"]" * 40 + b"}", "deep.0.0.0.0.0.0.0.\u2026", "nested deeper than 32"),
        (b"[" * 100_000 + b"]" * 100_000, "0.0.0.0.0.0.0.0.\u2026", "nested deeper than 32"),
        (b"[" * 100_000, "", "nested deeper"),
        (b"\xff\xfe{}", "", "not UTF-8"),
        (b'\xef\xbb\xbf{"a": 1}', "", "not valid JSON"),
        (b"{", "", "not valid JSON"),
        (b"", "", "not valid JSON"),
        (b'{"a": 1} x', "", "not valid JSON"),
        (b'{"a": "\x01"}', "", "not valid JSON"),  # a raw control character in a string
        ('{"a": 1}'.encode("utf-16"), "", "not UTF-8"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None,
)
def test_refused_with_path_and_reason(raw: bytes, path: str, words: str) -> None:
    """Each refusal names the dotted path (empty for the body) and says why."""
    with pytest.raises(JsonRejected) as caught:
        loads_strict(raw)
    assert caught.value.path == path
    assert words in caught.value.reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": 1.5, "b": -0, "c": 1e308, "d": "x"}', {"a": 1.5, "b": 0, "c": 1e308, "d": "x"}),
        (b'{"n": ' + b"9" * 40 + b"}", {"n": int("9" * 40)}),
        (b'{"s": "\\\\u0000 is text"}', {"s": "\\u0000 is text"}),  # an escaped backslash, not a NUL
        (b'{"s": "\\ud83d\\ude00"}', {"s": "\U0001f600"}),  # a proper surrogate pair
        (b'{"s": "' + b"[" * 100 + b'"}', {"s": "[" * 100}),  # brackets in a string are not nesting
        (b'{"s": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\\"}', {"s": '"' + "[" * 40 + "\\"}),
        (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, json.loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)),
        (b'[1e-400, 0.0]', [0.0, 0.0]),
        (b'"\\u00e9t\\u00e9"', "\u00e9t\u00e9"),
        (b"null", None),
    ],
)
def test_accepted_exactly_like_json_loads(raw: bytes, expected: Any) -> None:
    """Ordinary JSON parses to what json.loads gives."""
    assert loads_strict(raw) == expected


def test_depth_limit_is_a_parameter() -> None:
    """max_depth is configurable: 3 levels pass at 3 and fail at 2."""
    loads_strict(b"[[[]]]", max_depth=3)
    with pytest.raises(JsonRejected):
        loads_strict(b"[[[]]]", max_depth=2)
    check_depth(b"[[[]]]", 3)


def test_deep_body_is_refused_fast() -> None:
    """A megabyte of nested brackets is refused in well under a second (no recursion, no per-byte Python loop)."""
    raw = b'{"a": ' + b"[" * 500_000 + b"]" * 500_000 + b"}"
    started = time.perf_counter()
    with pytest.raises(JsonRejected):
        loads_strict(raw)
    assert time.perf_counter() - started < 2.0


def test_large_ordinary_body_stays_cheap() -> None:
    """A 5,000-line sale-like body parses in well under a second."""
    body = {"lines": [{"id": str(i), "price": 1.5, "qty": 2, "name": "Tee [x] \"q\" \\"} for i in range(5000)]}
    raw = json.dumps(body).encode()
    started = time.perf_counter()
    assert loads_strict(raw) == body
    assert time.perf_counter() - started < 1.0

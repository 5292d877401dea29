"""Record ids: the case-safe suffix, 15/18 normalisation and the id factory."""

from __future__ import annotations

import pytest

from emulator.salesforce.ids import KEY_PREFIXES, IdFactory, checksum, to18


@pytest.mark.parametrize("id15,suffix", [
    ("001xx000003DGb2", "AAG"),     # Salesforce REST docs example 001xx000003DGb2AAG
    ("001RM000003oCpr", "YAE"),     # collections doc example 001RM000003oCprYAE
    ("001900K0001pPuO", "ACU"),     # the errorcodes MALFORMED_ID example ends AAU: indeed malformed
    ("0a3xx0000000001", "AAA"),
    ("AAAAAAAAAAAAAAA", "555"),
    ("aaaaaaaaaaaaaaa", "AAA"),
])
def test_checksum_matches_salesforce_examples(id15: str, suffix: str) -> None:
    """The 3-character suffix follows the uppercase-bit algorithm."""
    assert checksum(id15) == suffix


@pytest.mark.parametrize("value,expected", [
    ("001xx000003DGb2", "001xx000003DGb2AAG"),
    ("001xx000003DGb2AAG", "001xx000003DGb2AAG"),
    ("001xx000003DGb2aag", "001xx000003DGb2AAG"),
    ("001xx000003DGb2999", None),
    ("001xx000003DGb", None),
    ("001xx000003DGb2-AG", None),
    ("", None),
])
def test_to18_normalises_or_rejects(value: str, expected: str | None) -> None:
    """15-char ids gain their suffix; bad lengths, characters or suffixes are rejected."""
    assert to18(value) == expected


def test_factory_issues_unique_valid_prefixed_ids() -> None:
    """Every issued id is 18 chars, carries its object's prefix and validates."""
    factory = IdFactory()
    ids = [factory.next_id(name) for name in KEY_PREFIXES for _ in range(3)]
    assert len(set(ids)) == len(ids)
    for name, rid in zip([n for n in KEY_PREFIXES for _ in range(3)], ids, strict=True):
        assert rid.startswith(KEY_PREFIXES[name]) and len(rid) == 18 and to18(rid) == rid


def test_key_prefixes_are_distinct() -> None:
    """No two objects share a key prefix."""
    assert len(set(KEY_PREFIXES.values())) == len(KEY_PREFIXES)

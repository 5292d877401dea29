"""Load-time sanity check of ``FilterQuery``: a SOQL condition spliced into ``WHERE ... AND (<FilterQuery>)``.

This is not a SOQL parser (Salesforce is the judge of the full grammar, and ``check-config --live`` runs the
query); it catches the mistakes that would break out of the parentheses or smuggle in a second statement.
"""

from __future__ import annotations

import re

_TOP_LEVEL_FORBIDDEN = re.compile(r"\b(SELECT|FROM|LIMIT|OFFSET|ORDER\s+BY|GROUP\s+BY|HAVING|FOR\s+UPDATE)\b", re.I)


def _mask_strings(text: str) -> tuple[str, str | None]:
    """Replace string literals by blanks; return (masked text, problem or None)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            j = i + 1
            while j < len(text):
                if text[j] == "\\":
                    j += 2
                    continue
                if text[j] == "'":
                    break
                j += 1
            if j >= len(text):
                return "", f"unterminated string literal starting at column {i + 1}"
            out.append("'" + " " * (j - i - 1) + "'")
            i = j + 1
            continue
        if ch == '"':
            return "", f"double quotes are not SOQL string delimiters (column {i + 1}); use single quotes"
        out.append(ch)
        i += 1
    return "".join(out), None


def check_filter_query(query: str) -> str | None:
    """Return a human-readable problem with ``query``, or None when it looks like a valid SOQL condition."""
    text = query.strip()
    if not text:
        return None
    masked, problem = _mask_strings(text)
    if problem:
        return problem
    if ";" in masked:
        return "must not contain ';' (one condition, not statements)"
    depth = 0
    top: list[str] = []
    for pos, ch in enumerate(masked):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return f"unbalanced parentheses: ')' at column {pos + 1} has no matching '('"
        top.append(ch if depth == 0 else " ")
    if depth:
        return f"unbalanced parentheses: {depth} '(' not closed"
    if re.match(r"\s*WHERE\b", masked, re.I):
        return "write the condition without the leading WHERE (it is added as AND (<FilterQuery>))"
    hit = _TOP_LEVEL_FORBIDDEN.search("".join(top))
    if hit:
        return f"must be a WHERE condition only; found {hit.group(1).upper()!r} (a second statement or clause)"
    # A semi-join sub-select is only allowed right after IN / NOT IN.
    for match in re.finditer(r"\(\s*SELECT\b", masked, re.I):
        before = masked[: match.start()].rstrip()
        if not re.search(r"\bIN$", before, re.I):
            return "a sub-select is only allowed as a semi-join: <field> IN (SELECT ...)"
    return None

"""The emulator's SOQL engine: parse, check against the org schema, run, shape rows as REST JSON.

Parser choice. ``python-soql-parser`` (0.2.0, pyparsing < 3) was evaluated and rejected: it has no
``NOT``, ``LIKE``, ``NOT IN``, ``COUNT()``, child or semi-join subqueries, ``NULLS FIRST|LAST``, date
literals or SOQL string escapes (it uses Python-style ``quotedString``), reports no token positions for
Salesforce-style ``ERROR at Row:1:Column:N`` messages, and pins an old pyparsing. The engine instead uses
a lark LALR(1) grammar (``grammar.py``) compiled once at import: linear-time parsing, a contextual lexer
so names like ``Order`` or ``Type`` still work as object/field names, exact token positions for errors,
and no runtime grammar generation. Parsed statements are cached (LRU, by query text); binding against the
schema is per call because it depends on the resolver.

Modules: ``grammar`` (lark grammar), ``parse`` (text -> ``model``), ``literals`` (escapes, dates),
``resolver`` (the org interface + fallbacks), ``bind`` (schema checks, canonical names), ``evaluate``
(predicates, ordering), ``execute`` (candidate rows, paging, JSON shaping), ``errors`` (message texts).
"""

from .errors import SoqlError
from .execute import QueryResult, run_query
from .parse import parse
from .resolver import Resolver

__all__ = ["QueryResult", "Resolver", "SoqlError", "parse", "run_query"]

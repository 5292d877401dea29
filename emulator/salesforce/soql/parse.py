"""Text -> :class:`Select`: runs the lark parser, builds the model, maps lark errors to MALFORMED_QUERY."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

from lark import Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from .errors import Pos, SoqlError, bad_literal, malformed
from .grammar import PARSER
from .literals import LiteralError, decode_string, parse_date, parse_datetime, relative_date
from .model import (
    AGGREGATE_FUNCTIONS,
    Aggregate,
    And,
    Compare,
    Condition,
    FieldPath,
    InList,
    Like,
    Literal,
    Not,
    Or,
    OrderItem,
    Select,
    SelectItem,
    SemiJoin,
    StrLit,
    SubQuery,
)

PARSE_CACHE_SIZE = 1024


def _pos(token: Token) -> Pos:
    return Pos(token.line or 1, token.column or 1, token.start_pos or 0)


class _Located(Exception):
    """Raised inside the transformer; carries the token whose text is at fault."""

    def __init__(self, token: Token, detail: str | None = None) -> None:
        super().__init__(detail or str(token))
        self.token = token
        self.detail = detail


@v_args(inline=True)
class _Build(Transformer[Token, Select]):
    """Turns the lark tree into model objects."""

    def start(self, select: Select) -> Select:
        return select

    def select(self, items: list[SelectItem], _from: Token, sobject: Token, *clauses: Any) -> Select:
        where: Condition | None = None
        group: tuple[FieldPath, ...] = ()
        having: Condition | None = None
        order: tuple[OrderItem, ...] = ()
        limit: int | None = None
        offset: int | None = None
        for kind, value in clauses:
            if kind == "where":
                where = value
            elif kind == "group":
                group = value
            elif kind == "having":
                having = value
            elif kind == "order":
                order = value
            elif kind == "limit":
                limit = value
            else:
                offset = value
        return Select(tuple(items), str(sobject), _pos(sobject), where, order, limit, offset, group, having)

    def select_list(self, *items: SelectItem) -> list[SelectItem]:
        return list(items)

    def field_path(self, *names: Token) -> FieldPath:
        return FieldPath(tuple(str(n) for n in names), _pos(names[0]))

    def aggregate(self, name: Token, field: FieldPath | None = None) -> Aggregate:
        func = str(name).upper()
        if func not in AGGREGATE_FUNCTIONS or (field is None and func != "COUNT"):
            raise _Located(name)
        return Aggregate(func, field, _pos(name))

    def aliased_field(self, path: FieldPath, alias: Token) -> FieldPath:
        return replace(path, alias=str(alias), alias_pos=_pos(alias))

    def misplaced_from(self, keyword: Token) -> FieldPath:
        raise _Located(keyword)

    def aliased_aggregate(self, call: Aggregate, alias: Token) -> Aggregate:
        return replace(call, alias=str(alias), alias_pos=_pos(alias))

    def group_by(self, *paths: FieldPath) -> tuple[str, tuple[FieldPath, ...]]:
        return ("group", paths)

    def having(self, condition: Condition) -> tuple[str, Condition]:
        return ("having", condition)

    def subquery(self, select: Select) -> SubQuery:
        return SubQuery(select)

    def where(self, condition: Condition) -> tuple[str, Condition]:
        return ("where", condition)

    def and_(self, *parts: Condition) -> And:
        return And(tuple(parts))

    def or_(self, *parts: Condition) -> Or:
        return Or(tuple(parts))

    def not_(self, part: Condition) -> Not:
        return Not(part)

    def compare(self, field: FieldPath | Aggregate, op: Token, value: Literal) -> Compare:
        return Compare(field, "!=" if str(op) == "<>" else str(op), value)

    def like(self, field: FieldPath, pattern: Token) -> Like:
        value = self._literal(pattern, decode_string)
        assert isinstance(value, StrLit)
        return Like(field, value)

    def in_list(self, field: FieldPath | Aggregate, values: list[Literal]) -> InList:
        return InList(field, tuple(values), negated=False)

    def not_in_list(self, field: FieldPath | Aggregate, _kw: Token, values: list[Literal]) -> InList:
        return InList(field, tuple(values), negated=True)

    def semi_join(self, field: FieldPath, select: Select) -> SemiJoin:
        return SemiJoin(field, select, negated=False)

    def anti_join(self, field: FieldPath, _kw: Token, select: Select) -> SemiJoin:
        return SemiJoin(field, select, negated=True)

    def value_list(self, *values: Literal) -> list[Literal]:
        return list(values)

    def string(self, token: Token) -> Literal:
        return self._literal(token, decode_string)

    def number(self, token: Token) -> Literal:
        text = str(token)
        return float(text) if "." in text else int(text)

    def datetime(self, token: Token) -> Literal:
        return self._literal(token, parse_datetime, echo_token=True)

    def date(self, token: Token) -> Literal:
        return self._literal(token, parse_date, echo_token=True)

    def null(self) -> Literal:
        return None

    def true(self) -> Literal:
        return True

    def false(self) -> Literal:
        return False

    def named_date(self, name: Token, n: Token | None = None) -> Literal:
        try:
            return relative_date(str(name), None if n is None else int(n))
        except LiteralError:
            raise _Located(name) from None

    def order_by(self, *items: OrderItem) -> tuple[str, tuple[OrderItem, ...]]:
        return ("order", tuple(items))

    def order_item(self, field: FieldPath | Aggregate, *mods: Any) -> OrderItem:
        descending = False
        nulls_first = True
        for mod in mods:
            if isinstance(mod, Token) and mod.type == "DIRECTION":
                descending = str(mod).upper() == "DESC"
            else:
                nulls_first = mod
        return OrderItem(field, descending, nulls_first)

    def nulls(self, where: Token) -> bool:
        return str(where).upper() == "FIRST"

    def limit(self, n: Token) -> tuple[str, int]:
        return ("limit", int(n))

    def offset(self, n: Token) -> tuple[str, int]:
        return ("offset", int(n))

    @staticmethod
    def _literal(token: Token, decode: Any, echo_token: bool = False) -> Literal:
        try:
            result: Literal = decode(str(token))
        except LiteralError as exc:
            raise _Located(token, None if echo_token else str(exc)) from None
        return result


_BUILD = _Build()


def _end_pos(soql: str) -> Pos:
    offset = len(soql.rstrip())
    line = soql.count("\n", 0, offset) + 1
    column = offset - (soql.rfind("\n", 0, offset) + 1) + 1
    return Pos(line, column, offset)


def _from_lark(soql: str, exc: UnexpectedInput) -> SoqlError:
    if isinstance(exc, UnexpectedToken):
        if exc.token.type == "$END":
            return malformed(soql, _end_pos(soql), None)
        return malformed(soql, _pos(exc.token), str(exc.token))
    if isinstance(exc, UnexpectedCharacters):
        pos = Pos(exc.line, exc.column, exc.pos_in_stream or 0)
        rest = soql[pos.offset:].split(None, 1)
        token = rest[0] if rest else exc.char
        if token.startswith("'"):
            token = token[:1]
        return malformed(soql, pos, token)
    return malformed(soql, _end_pos(soql), None)


@lru_cache(maxsize=PARSE_CACHE_SIZE)
def parse(soql: str) -> Select:
    """Parse one SOQL statement (cached by text); raises :class:`SoqlError` ``MALFORMED_QUERY``."""
    try:
        return _BUILD.transform(PARSER.parse(soql))
    except UnexpectedInput as exc:
        raise _from_lark(soql, exc) from None
    except VisitError as exc:
        located = exc.orig_exc
        if not isinstance(located, _Located):
            raise
        if located.detail is not None:
            raise bad_literal(soql, _pos(located.token), located.detail) from None
        raise malformed(soql, _pos(located.token), str(located.token)) from None

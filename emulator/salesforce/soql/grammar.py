"""The SOQL subset as a lark LALR(1) grammar, compiled once at import.

The contextual lexer only offers the terminals the parser can accept in its current state, so field and
object names that collide with keywords (``Order``, ``Type``) still lex as names where a name is expected.
Mixing ``AND`` and ``OR`` without parentheses is a syntax error, exactly as in Salesforce.
"""

from __future__ import annotations

from lark import Lark

GRAMMAR = r"""
start: select

select: "SELECT"i select_list "FROM"i NAME where? order_by? limit? offset?

select_list: select_item ("," select_item)*
?select_item: field_path
            | NAME "(" field_path? ")"        -> count
            | "(" select ")"                  -> subquery

field_path: NAME ("." NAME)*

where: "WHERE"i condition
?condition: unary
          | unary ("AND"i unary)+            -> and_
          | unary ("OR"i unary)+             -> or_
?unary: "NOT"i unary                          -> not_
      | "(" condition ")"
      | predicate
?predicate: field_path OP value               -> compare
          | field_path "LIKE"i STRING         -> like
          | field_path "IN"i "(" value_list ")"             -> in_list
          | field_path NOT_IN "(" value_list ")"            -> not_in_list
          | field_path "IN"i "(" select ")"                 -> semi_join
          | field_path NOT_IN "(" select ")"                -> anti_join
value_list: value ("," value)*
?value: STRING                                -> string
      | NUMBER                                -> number
      | DATETIME                              -> datetime
      | DATE                                  -> date
      | "NULL"i                               -> null
      | "TRUE"i                               -> true
      | "FALSE"i                              -> false
      | NAME (":" INT)?                       -> named_date

order_by: "ORDER"i "BY"i order_item ("," order_item)*
order_item: field_path DIRECTION? nulls?
nulls: "NULLS"i NULLS_WHERE
limit: "LIMIT"i INT
offset: "OFFSET"i INT

NOT_IN: /NOT\s+IN\b/i
DIRECTION: /ASC\b/i | /DESC\b/i
NULLS_WHERE: /FIRST\b/i | /LAST\b/i
OP: "<=" | ">=" | "!=" | "<>" | "=" | "<" | ">"
NAME: /[a-z_][a-z0-9_]*/i
STRING: /'(?:[^'\\]|\\.)*'/s
DATETIME.4: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})/i
DATE.3: /\d{4}-\d{2}-\d{2}/
NUMBER.2: /[+-]?(?:\d+(?:\.\d*)?|\.\d+)/
INT: /\d+/

%import common.WS
%ignore WS
"""

PARSER = Lark(GRAMMAR, parser="lalr", lexer="contextual", start="start", maybe_placeholders=False)

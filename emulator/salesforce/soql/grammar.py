"""The SOQL subset as a lark LALR(1) grammar, compiled once at import.

The contextual lexer only offers the terminals the parser can accept in its current state, so field and
object names that collide with keywords (``Order``, ``Type``) still lex as names where a name is expected.
Mixing ``AND`` and ``OR`` without parentheses is a syntax error, exactly as in Salesforce.

Aggregates (``COUNT(Id) c``, ``GROUP BY``, ``HAVING``) follow "Aggregate Functions", "GROUP BY", "HAVING" and
"Use Aliases with GROUP BY" of the SOQL and SOSL Reference
(https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-select-agg-functions.html,
.../sforce-api-calls-soql-select-groupby-alias.html, .../sforce-api-calls-soql-select-having.html): aggregate calls are
accepted in the select list, in ``HAVING`` and in ``ORDER BY`` but not in ``WHERE`` ("you can include aggregate
functions in a HAVING clause, but not in a WHERE clause"), so an aggregate in ``WHERE`` is a syntax error here.
``FROM`` is a reserved keyword ("Reserved Keywords", SOQL reference), never a field: the select list accepts it only
to report it (``SELECT FROM X`` fails at ``X``, not as a field ``FROM`` aliased ``X``).
"""

from __future__ import annotations

from lark import Lark

GRAMMAR = r"""
start: select

select: "SELECT"i select_list FROM_KW NAME where? group_by? having? order_by? limit? offset?

select_list: select_item ("," select_item)*
?select_item: field_path
            | field_path NAME                 -> aliased_field
            | aggregate
            | aggregate NAME                  -> aliased_aggregate
            | "(" select ")"                  -> subquery
            | FROM_KW                         -> misplaced_from

aggregate: NAME "(" field_path? ")"
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

group_by: "GROUP"i "BY"i field_path ("," field_path)*
having: "HAVING"i h_condition
?h_condition: h_unary
            | h_unary ("AND"i h_unary)+      -> and_
            | h_unary ("OR"i h_unary)+       -> or_
?h_unary: "NOT"i h_unary                      -> not_
        | "(" h_condition ")"
        | h_predicate
?h_predicate: predicate
            | aggregate OP value              -> compare
            | aggregate "IN"i "(" value_list ")"      -> in_list
            | aggregate NOT_IN "(" value_list ")"     -> not_in_list

?value: STRING                                -> string
      | NUMBER                                -> number
      | DATETIME                              -> datetime
      | DATE                                  -> date
      | "NULL"i                               -> null
      | "TRUE"i                               -> true
      | "FALSE"i                              -> false
      | NAME (":" INT)?                       -> named_date

order_by: "ORDER"i "BY"i order_item ("," order_item)*
order_item: (field_path | aggregate) DIRECTION? nulls?
nulls: "NULLS"i NULLS_WHERE
limit: "LIMIT"i INT
offset: "OFFSET"i INT

FROM_KW: "FROM"i
NOT_IN.2: /NOT\s+IN\b/i
DIRECTION.2: /ASC\b/i | /DESC\b/i
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

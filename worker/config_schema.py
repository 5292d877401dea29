"""The configuration's JSON Schema (``oms-worker schema``), generated from the pydantic models at run time.

So editors can complete and check the YAML (``# yaml-language-server: $schema=worker.schema.json``). On top of what
pydantic derives from :class:`worker.config.Config` (types, defaults, bounds, unknown keys refused):

* descriptions: a field's own ``Field(description=...)``, else the comments beside and above it in its model's
  source, else its comment in ``config/worker.example.yaml`` (the documented example; read when the source tree
  is at hand, as where the checked-in ``config/worker.schema.json`` is generated), and each model's docstring;
* ``${VAR}`` / ``${VAR:-default}``: wherever a value is a number, boolean, null, choice or constrained string, a
  string holding a ``${...}`` reference is allowed too (:mod:`worker.config_load` interpolates before validating);
* ``<key>_file``: beside every secret key (``worker.config.SECRET_KEYS``, and ``SECRET_LIST_KEYS`` whose file holds
  one secret per line) of a section, either one but not both;
* a list behind a field's before-validator also accepts a string (``applyTo: LOCATION``, ``OMSCustomField`` as
  the CMS's JSON text, ``OMSStatusesToProcess`` comma-separated).

What the models check in code (``ApiVersion`` is ``vNN.N``, FilterQuery, URLs, ...) stays for ``check-config``.
"""

from __future__ import annotations

import inspect
import io
import json
import re
import textwrap
import tokenize
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from worker.config import SECRET_KEYS, SECRET_LIST_KEYS, Config

DIALECT = "https://json-schema.org/draft/2020-12/schema"
EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "worker.example.yaml"
CONTINUATION_COLUMN = 30  # a comment-only line starting this far right continues the comment of the key above
VAR_REF = {"$ref": "#/$defs/EnvReference"}
ENV_REFERENCE = {
    "type": "string",
    "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}",
    "description": "${VAR} or ${VAR:-default}: the value comes from the environment",
}
_CONSTRAINED_STRING = ("pattern", "enum", "const", "maxLength")
_LAYOUT = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)


def _plain(text: str) -> str:
    """Docstring/comment text without reST markup."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    return " ".join(text.replace("``", "`").split())


def _field_comments(cls: type[BaseModel]) -> dict[str, str]:
    """Field name -> the comment lines right above it plus the comment on its line, from the class source."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (OSError, TypeError, tokenize.TokenError, SyntaxError):
        return {}
    comments = {t.start[0]: t.string.lstrip("#").strip() for t in tokens if t.type == tokenize.COMMENT}
    code = {n for t in tokens if t.type not in (*_LAYOUT, tokenize.COMMENT) for n in range(t.start[0], t.end[0] + 1)}
    notes: dict[str, str] = {}
    for number, line in enumerate(source.splitlines(), 1):
        match = re.match(r"    ([A-Za-z_]\w*)\s*:", line)
        if not match or match.group(1) not in cls.model_fields:
            continue
        above: list[str] = []
        n = number - 1
        while n in comments and n not in code:
            above.insert(0, comments[n])
            n -= 1
        parts = [*above, comments[number]] if number in comments else above
        if parts:
            notes[match.group(1)] = _plain(" ".join(parts))
    return notes


def _comment(rest: str) -> str | None:
    """The text after ``#`` in a YAML line's value part (a ``#`` inside quotes is not one), unstripped."""
    quote = None
    for i, char in enumerate(rest):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or rest[i - 1].isspace()):
            return rest[i + 1:]
    return None


def example_notes(path: Path = EXAMPLE) -> dict[str, str]:
    """Dotted key path -> its comment in the documented example config. A comment-only line far right, or a
    comment indented after its ``#`` (``#   more``), continues the comment above."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    notes: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    noted: str | None = None  # the key whose comment a continuation extends
    for line in lines:
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        match = re.match(r"([A-Za-z_]\w*):(.*)$", stripped)
        if not stripped or (stripped.startswith("#") and indent < CONTINUATION_COLUMN) or not (
                match or stripped.startswith("#")):
            noted = None
            continue
        if match:
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match.group(1)))
        comment = stripped[1:] if not match else _comment(match.group(2))
        if not comment or not comment.strip():
            noted = None if match else noted
            continue
        if noted and (not match or comment.startswith("  ")):
            notes[noted] += " " + comment.strip()
        elif match:
            noted = ".".join(key for _, key in stack)
            notes[noted] = comment.strip()
    return notes


def _describe(node: dict[str, Any], path: str, notes: dict[str, str], defs: dict[str, Any], seen: set[str]) -> None:
    """Fills the descriptions the models lack from ``notes`` (by key path), following each section's $ref."""
    for name, prop in node.get("properties", {}).items():
        key = f"{path}.{name}" if path else name
        if "description" not in prop and key in notes:
            prop["description"] = _plain(notes[key])
        ref = prop.get("$ref", "")
        if ref.startswith("#/$defs/") and ref not in seen:
            seen.add(ref)
            _describe(defs[ref.removeprefix("#/$defs/")], key, notes, defs, seen)


class _Generator(GenerateJsonSchema):
    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        if "description" in json_schema:
            json_schema["description"] = _plain(json_schema["description"])
        notes: dict[str, str] = {}
        for cls in reversed(schema["cls"].__mro__):  # a subclass's comment wins over its base's
            if isinstance(cls, type) and issubclass(cls, BaseModel) and cls is not BaseModel:
                notes.update(_field_comments(cls))
        for name, prop in json_schema.get("properties", {}).items():
            if name in notes and "description" not in prop:
                prop["description"] = notes[name]
        return json_schema

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema) -> JsonSchemaValue:
        inner = super().function_before_schema(schema)
        if inner.get("type") == "array":
            return {"anyOf": [inner, {"type": "string"}]}
        return inner


def _scalar(node: dict[str, Any]) -> bool:
    return "$ref" not in node and "anyOf" not in node and node.get("type") not in ("object", "array", None)


def _any_string(node: dict[str, Any]) -> bool:
    return node.get("type") == "string" and not any(key in node for key in _CONSTRAINED_STRING)


def _allow_env(node: dict[str, Any]) -> dict[str, Any]:
    """Lets a ``${VAR}`` string stand wherever a scalar that not every string satisfies is expected."""
    for key in ("properties", "$defs"):
        for name, child in node.get(key, {}).items():
            node[key][name] = _allow_env(child)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            node[key] = _allow_env(node[key])
    if "anyOf" in node:
        options = [option if _scalar(option) else _allow_env(option) for option in node["anyOf"]]
        if any(_scalar(o) for o in options) and not any(_any_string(o) or o == VAR_REF for o in options):
            options.append(VAR_REF)
        node["anyOf"] = options
        return node
    if not _scalar(node) or _any_string(node):
        return node
    meta = {key: node.pop(key) for key in ("title", "description", "default") if key in node}
    return {**meta, "anyOf": [node, VAR_REF]}


def _secret_files(section: dict[str, Any]) -> None:
    """``<key>_file`` beside each secret key; a required secret may come from either, never both."""
    properties = section.get("properties", {})
    rules: list[dict[str, Any]] = []
    for key in [name for name in properties if name in SECRET_KEYS | SECRET_LIST_KEYS]:
        file_key = f"{key}_file"
        holds = (", one per line (blank lines and # comments ignored)" if key in SECRET_LIST_KEYS
                 else " (one trailing newline dropped)")
        properties[file_key] = {"title": file_key, "type": "string",
                                "description": f"path of a file holding {key}{holds}; instead of {key}"}
        if key in section.get("required", []):
            section["required"].remove(key)
            rules.append({"anyOf": [{"required": [key]}, {"required": [file_key]}]})
        rules.append({"not": {"required": [key, file_key]}})
    if rules:
        section["allOf"] = [*section.get("allOf", []), *rules]
    if section.get("required") == []:
        del section["required"]


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the YAML configuration."""
    schema = Config.model_json_schema(mode="validation", schema_generator=_Generator)
    defs = schema.setdefault("$defs", {})
    _describe(schema, "", example_notes(), defs, set())
    for section in [schema, *defs.values()]:
        _secret_files(section)
    schema = _allow_env(schema)
    schema["$defs"]["EnvReference"] = dict(ENV_REFERENCE)
    schema["title"] = "oms-worker configuration"
    schema.setdefault("description", "One YAML file; every key is documented in config/worker.example.yaml.")
    return {"$schema": DIALECT, **schema}


def render_schema() -> str:
    """``config_schema()`` as the text of config/worker.schema.json (stable: same models, same text)."""
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"

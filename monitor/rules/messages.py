"""Pydantic's validation errors in plain words: what is wrong with a field and how to fix it.

Rule and gazetteer authors write YAML, not Python: "Input should be a valid dictionary
or instance of BlockSpec" means nothing to them. Every error type our models can raise
gets its own sentence here; a model may set a `shape` class variable to say what a
value of it looks like.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from datetime import date
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

_LIST = "a list (one '- item' per line, or [a, b])"
_MAPPING = "a mapping (one 'name: value' per line)"
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "more than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}


def plain_message(item: Any, model: type[BaseModel] | None) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) as a sentence for a user."""
    kind, ctx, value = item["type"], item.get("ctx") or {}, item.get("input")
    loc = [part for part in item["loc"] if isinstance(part, str | int)]
    if kind in ("value_error", "assertion_error"):
        return str(item["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "extra_forbidden":
        return _unknown_field(str(loc[-1]), _field_names(model, loc[:-1]))
    if kind == "missing":
        return f"required field is missing; add '{loc[-1]}:'"
    if kind in ("model_type", "model_attributes_type"):
        shape = getattr(_model_at(model, loc), "shape", _MAPPING)
        return f"{'' if loc else 'the file '}must be {shape}, not {describe(value)}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"must be {words} {ctx.get(key)}, not {describe(value)}"
    simple = _SIMPLE.get(kind)
    if simple is not None:
        return simple.format(value=describe(value), **ctx)
    return f"{describe(value)} is not valid here; see docs/rules.md for what this field takes"


_SIMPLE = {
    "string_type": "must be text, not {value}",
    "string_too_short": "must not be empty",
    "list_type": f"must be {_LIST}, not {{value}}",
    "dict_type": f"must be {_MAPPING}, not {{value}}",
    "too_short": "needs at least {min_length} item(s), not {actual_length}",
    "too_long": "takes at most {max_length} item(s), not {actual_length}",
    "literal_error": "{value} is not allowed here; write {expected}",
    "int_type": "must be a whole number, not {value}",
    "int_parsing": "must be a whole number, not {value}",
    "int_from_float": "must be a whole number, not {value}",
    "bool_type": "must be true or false, not {value}",
    "bool_parsing": "must be true or false, not {value}",
}


def describe(value: Any) -> str:
    """What a YAML value is, in the words of someone who wrote it."""
    if value is None:
        return "nothing (the value is empty)"
    if isinstance(value, bool):  # YAML 1.1 reads yes/no/on/off as booleans
        return f"{str(value).lower()} (YAML reads yes, no, on, off as true/false: quote text)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, date):
        return f"the date {value} (quote it to make it text)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _unknown_field(name: str, allowed: Sequence[str]) -> str:
    if not allowed:
        return "unknown field (check the spelling; see docs/rules.md for the allowed fields)"
    close = difflib.get_close_matches(name, allowed, n=1)
    guess = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown field; {guess}(the fields here are: {', '.join(allowed)})"


def _field_names(model: type[BaseModel] | None, loc: Sequence[str | int]) -> list[str]:
    found = _model_at(model, loc)
    return list(found.model_fields) if found is not None else []


def _model_at(model: type[BaseModel] | None, loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model that validates the value at `loc`, found by following the annotations."""
    current: Any = model
    for part in loc:
        current = _inner(_unwrap(current), part)
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner(annotation: Any, part: str | int) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(part) if isinstance(part, str) else None
        return None if field is None else field.annotation
    args = get_args(annotation)
    if get_origin(annotation) is list and isinstance(part, int):
        return args[0]
    if get_origin(annotation) is dict and isinstance(part, str):
        return args[1]
    return None


def _unwrap(annotation: Any) -> Any:
    """`X | None` is X."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation

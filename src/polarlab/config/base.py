"""The base of every project-file model, and pydantic's errors turned into one clear :class:`ConfigError`."""
from __future__ import annotations

import difflib
from typing import Any, Sequence

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import ConfigError


class Section(BaseModel):
    """A table of the project file: every key declared, types checked strictly, unknown keys refused.

    Strict: ``"10"`` is not an int, ``"mv"`` is not a list, ``1`` is not a string, ``1`` is not ``true``.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=False, protected_namespaces=())


_TYPE_WORDS = {"string_type": "a string", "int_type": "an integer", "float_type": "a number",
               "bool_type": "true or false", "list_type": "a list", "dict_type": "a table",
               "model_type": "a table", "tuple_type": "a list", "int_from_float": "an integer"}


_BOUNDS = {"greater_than_equal": ("below the minimum", "ge"), "greater_than": ("not above", "gt"),
           "less_than_equal": ("above the maximum", "le"), "less_than": ("not below", "lt")}
_OPPOSITE = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict"}


def _clean(loc: Sequence[Any]) -> list[Any]:
    """Drop pydantic's union-member and validator tags from an error location."""
    out = []
    for p in loc:
        if isinstance(p, str) and (p in _TYPE_TAGS or "[" in p or "function-" in p or p.startswith("tagged")
                                   or p.startswith("literal")):
            continue
        out.append(p)
    return out


def key_path(loc: Sequence[Any], prefix: str = "") -> str:
    """``("sources", 2, "keywords")`` -> ``"sources[2].keywords"`` (with ``prefix`` in front)."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """The model class that holds the last key of ``loc`` (to suggest its keys)."""
    cur: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or cur is None:
            continue
        field = getattr(cur, "model_fields", {}).get(part)
        if field is None:
            return None
        cur = _inner_model(field.annotation)
    return cur if isinstance(cur, type) and issubclass(cur, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def suggest(word: str, choices: Sequence[str]) -> str | None:
    """The closest of ``choices`` to ``word`` (typos, British spellings), or None."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def config_error(e: ValidationError, model: type[BaseModel], *, file: str | None, prefix: str = "",
                 table: str | None = None) -> ConfigError:
    """The first problem of ``e`` as a :class:`ConfigError` naming the file, the key path and the fix.

    Args:
        e: pydantic's error.
        model: the model that was validated (to list its keys and suggest "did you mean").
        file: the project file.
        prefix: key path of ``model`` inside the file (e.g. ``"sources[2]"``).
        table: how to name the table in the message (e.g. ``"[labelmodel]"``).
    """
    errors = e.errors(include_url=False)
    # an unknown key first: a typo ("keyword") also makes the key it misspells missing ("keywords")
    errors = sorted(errors, key=lambda x: x["type"] != "extra_forbidden")
    err = errors[0]
    loc = _clean(err["loc"])
    same = [x for x in errors if _clean(x["loc"]) == loc]
    kind = err["type"]
    given = err.get("input")
    msg = err["msg"]
    if msg.startswith("Value error, @"):          # a model validator naming its key: "@final: ..."
        key, msg = msg[len("Value error, @"):].split(": ", 1)
        loc, msg = loc + [key], "Value error, " + msg
        given = None
    path = key_path(loc, prefix)
    holder = _model_at(model, loc) if loc else model
    keys = sorted(holder.model_fields) if holder is not None else []
    where = (f"[{key_path(loc[:-1], prefix)}]" if len(loc) > 1 or not table else table) \
        if key_path(loc[:-1], prefix) else (table or "the project file")
    if kind == "extra_forbidden":
        name = str(loc[-1])
        guess = suggest(name, keys)
        fix = (f"did you mean {guess!r}? " if guess else "") + f"the keys of {where} are: {', '.join(keys)}"
        return ConfigError(f"unknown key {name!r}", file=file, column=path, fix=fix)
    if kind == "missing":
        return ConfigError("required key is missing", file=file, column=path, fix=f"add {loc[-1]} = ...")
    if len(same) > 1 and all(x["type"] in _TYPE_WORDS or x["type"] == "literal_error" for x in same):
        # a word or another type (weights = "equal" or a list): name the words, and the one meant
        words = [str(x.get("ctx", {}).get("expected", "")) for x in same if x["type"] == "literal_error"]
        expected = " or ".join(dict.fromkeys(_TYPE_WORDS.get(x["type"], f"one of {words[0] if words else ''}")
                                             for x in same))
        choices = [c.strip(" '") for c in words[0].replace(" or ", ",").split(",")] if words else []
        guess = suggest(given, choices) if isinstance(given, str) and choices else None
        return ConfigError(f"{given!r} is not {expected}", file=file, column=path,
                           fix=(f"did you mean {guess!r}? " if guess else "") + f"give {expected}")
    if kind in _BOUNDS:
        word, key = _BOUNDS[kind]
        limit = err.get("ctx", {}).get(key)
        return ConfigError(f"{given!r} is {word} {limit}", file=file, column=path,
                           fix=f"use a value {_OPPOSITE[kind]} {limit}")
    if kind in ("too_short", "too_long"):
        ctx = err.get("ctx", {})
        need = (f"at least {ctx.get('min_length')}" if kind == "too_short" else f"at most {ctx.get('max_length')}")
        return ConfigError(f"{given!r} has {ctx.get('actual_length')} item(s); {need} are needed", file=file,
                           column=path, fix=f"give {need} items")
    if kind in _TYPE_WORDS:
        expected = _TYPE_WORDS[kind]
        fix = f"give {expected}"
        if kind == "list_type" and isinstance(given, str):
            fix = f'write a list: {loc[-1]} = {_as_list(given)}'
        return ConfigError(f"{given!r} is not {expected}", file=file, column=path, fix=fix)
    if kind == "literal_error":
        choices = err.get("ctx", {}).get("expected", "")
        guess = suggest(str(given), [c.strip(" '") for c in str(choices).replace(" or ", ",").split(",")])
        fix = (f"did you mean {guess!r}? " if guess else "") + f"use {choices}"
        return ConfigError(f"{given!r} is not allowed", file=file, column=path, fix=fix)
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if "Fix:" in msg:
        msg, fix = msg.split(". Fix: ", 1) if ". Fix: " in msg else (msg, None)
    else:
        fix = "see docs/config.md for the allowed values"
    return ConfigError(f"{given!r}: {msg}" if given is not None and not isinstance(given, dict) else msg,
                       file=file, column=path, fix=fix)


def _as_list(text: str) -> str:
    parts = [p.strip() for p in text.split(",") if p.strip()] or [text]
    return "[" + ", ".join(f'"{p}"' for p in parts) + "]"


def validate(model: type[BaseModel], data: Any, *, file: str | None, prefix: str = "", table: str | None = None,
             strict: bool | None = None) -> Any:
    """``model.model_validate(data)``, any problem raised as one :class:`ConfigError`. ``strict=True`` checks a
    model that is lax in Python (the linking tables) as strictly as a :class:`Section`: ``"10"`` is no integer."""
    if not isinstance(data, dict):
        return_where = prefix or "the project file"
        raise ConfigError(f"{data!r} is not a table", file=file, column=return_where,
                          fix=f"write it as a table: [{prefix}] with keys on the following lines")
    try:
        return model.model_validate(data, strict=strict)
    except ValidationError as e:
        raise config_error(e, model, file=file, prefix=prefix, table=table) from None

"""Config validation errors a person can act on: `key = value: what is wrong`, with what to write.

A value set by an environment variable (`CARTFLOW__SECTION__KEY`) says so, since it is not in the
file the user is looking at; a bad value gets an example rather than a regex; a misspelled key
gets a "did you mean" from the schema's own keys.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from cartflow.config.project import ProjectConfig
from cartflow.config.sources import FilesSource, HttpSource, PostgresSource, SourceConfig

# What a value of each pattern looks like: an example reads better than the regex.
PATTERN_EXAMPLES = {
    r"^(?i:[0-9]+(\.[0-9]+)?\s*[KMGT]i?B)$": 'a size such as "2GB", "512MB" or "8GiB"',
    r"^[a-z_][a-z0-9_]{0,62}$": 'a lower-case name such as "cartflow" (letters, digits and _)',
    r"^[A-Z]{3}$": 'a three-letter currency code such as "GBP" or "EUR"',
    r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$": 'a column name such as "updated_at" (letters, digits and _)',
    r"^[^/\\*?\[]+$": 'a file name such as ".done" or "_SUCCESS" (no path, no wildcard)',
    r"^https?://": 'a URL such as "https://api.example.com/v1/customers"',
    r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$": 'a table such as "orders" or "sales.orders"',
}


def format_validation_error(exc: ValidationError, raw: dict[str, Any], source: str,
                            env: dict[tuple[str, ...], str] | None = None) -> str:
    """One line per problem: `key = value: what is wrong`, with what to write instead.

    A value set by an environment variable (`CARTFLOW__SECTION__KEY`) says so: it is not in the
    file the user is looking at. A bad value gets an example, a misspelled key a "did you mean".
    """
    env = env or {}
    lines = [f"{source}: invalid configuration"]
    for details in exc.errors():
        err: dict[str, Any] = dict(details)
        path = tuple(p for p in err["loc"] if not _is_union_tag(p, err))
        key = ".".join(str(p) for p in path)
        value = _lookup(raw, path)
        shown = "(missing)" if value is _MISSING else repr(value)
        origin = env.get(tuple(str(p).lower() for p in path))
        if origin:
            shown += f" (from the environment variable {origin}, not {Path(source).name})"
        msg = _explain(err, path, raw)
        if not path:  # a whole-file rule (a model validator): there is no one key to show
            lines.append(f"  {msg}")
        elif isinstance(value, dict):  # a rule over a whole table (a model validator): name the table
            lines.append(f"  [{key}]: {msg}")
        else:
            lines.append(f"  {key} = {shown}: {msg}")
    return "\n".join(lines)


def _explain(err: dict[str, Any], path: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """What is wrong, said once, with what would be right."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        known = _known_keys(path[:-1], raw)
        close = difflib.get_close_matches(str(path[-1]), known, n=1, cutoff=0.6)
        return "unknown key" + (f"; did you mean {close[0]!r}?" if close else
                                f" (known here: {', '.join(sorted(known))})" if known else "")
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        example = PATTERN_EXAMPLES.get(str(ctx.get("pattern")))
        return f"expected {example}" if example else f"does not have the expected form ({ctx.get('pattern')})"
    if kind == "union_tag_invalid":
        return f"kind {ctx.get('tag')!r} is not a source kind; expected one of {ctx.get('expected_tags')}"
    if kind == "missing":
        return "required, and not set"
    return str(err["msg"]).removeprefix("Value error, ")


def _known_keys(path: tuple[Any, ...], raw: dict[str, Any]) -> list[str]:
    """The keys allowed in the table at `path`, read from the schema (for "did you mean")."""
    node: Any = ProjectConfig
    for i, part in enumerate(path):
        node = _resolve(node, raw, path[:i])
        if isinstance(node, _AnyKey):  # `sources.<name>`: the name is free, its table is not
            node = node.value
            continue
        if not (isinstance(node, type) and issubclass(node, BaseModel)):
            return []
        field = node.model_fields.get(str(part)) or next(
            (f for f in node.model_fields.values() if f.alias == part), None)
        if field is None:
            return []
        node = _inner(field.annotation)
    node = _resolve(node, raw, path)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [f.alias or n for n, f in node.model_fields.items()]
    return []


_SOURCE_KINDS = {"files": FilesSource, "http": HttpSource, "postgres": PostgresSource}


def _resolve(node: Any, raw: dict[str, Any], path: tuple[Any, ...]) -> Any:
    """A source (a union on `kind`) -> the model its `kind` picks."""
    if node is SourceConfig:
        value = _lookup(raw, path)
        return _SOURCE_KINDS.get(str(value.get("kind"))) if isinstance(value, dict) else None
    return node


def _inner(annotation: Any) -> Any:
    """`X | None` -> X; `dict[str, X]` -> any key, each holding X."""
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else annotation
    if get_origin(annotation) is dict:
        return _AnyKey(get_args(annotation)[1])
    return annotation


class _AnyKey:
    """A table of named entries (`[sources.<name>]`): any key, each holding `value`."""

    def __init__(self, value: Any) -> None:
        self.value = value


_MISSING = object()


def _is_union_tag(part: Any, err: dict[str, Any]) -> bool:
    return isinstance(part, str) and part in {"files", "http", "postgres"} and err["type"] != "union_tag_invalid"


def _lookup(raw: Any, loc: tuple[Any, ...]) -> Any:
    cur = raw
    for part in loc:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return _MISSING
    return cur

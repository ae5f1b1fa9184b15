"""A small checker for JSON documents: the host's data files and the
documents host and guest exchange (kzt.guest.seam).

A schema is built from:

- `str`, `int`, `float` (an int is accepted), `bool`, `object` (anything);
- `ListOf(spec)`, `MapOf(spec)` (any keys);
- `Record({"key": spec, "key?": spec})`: the keys it names and no other
  ("?" marks an optional key); `rest=spec` lets other keys through, each
  checked against that spec;
- `Tagged("kind", {"a": Record(...), ...})`: a record whose "kind" says
  which record it is;
- `OneOf(spec, ...)`: the first that fits.

A value that does not fit raises SchemaError naming the source (a file)
and the key path (`configs.zram.setup[0].priority`).  Standard library only.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


class SchemaError(ValueError):
    """A document does not fit its schema: which file, which key, what is wrong."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key or 'top level'}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class ListOf:
    item: Any


@dataclass(frozen=True)
class MapOf:
    value: Any


@dataclass(frozen=True)
class Record:
    fields: Mapping[str, Any]
    rest: Any = None

    def required(self) -> list[str]:
        return [k for k in self.fields if not k.endswith("?")]

    def spec_of(self, key: str) -> Any:
        if key in self.fields:
            return self.fields[key]
        return self.fields.get(key + "?", self.rest)


@dataclass(frozen=True)
class Tagged:
    tag: str
    variants: Mapping[str, Record]


@dataclass(frozen=True)
class OneOf:
    specs: tuple[Any, ...] = field(default_factory=tuple)

    def __init__(self, *specs: Any) -> None:
        object.__setattr__(self, "specs", specs)


_TYPE_NAMES = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
               object: "anything"}


def describe(spec: Any) -> str:
    if isinstance(spec, ListOf):
        return f"a list of {describe(spec.item)}"
    if isinstance(spec, (MapOf, Record, Tagged)):
        return "an object"
    if isinstance(spec, OneOf):
        return " or ".join(describe(s) for s in spec.specs)
    return _TYPE_NAMES.get(spec, str(spec))


def _join(key: str, sub: str) -> str:
    return f"{key}.{sub}" if key else sub


def check(value: Any, spec: Any, source: str, key: str = "") -> None:
    """Raise SchemaError unless `value` fits `spec`."""
    if spec is object:
        return
    if isinstance(spec, OneOf):
        for s in spec.specs:
            try:
                check(value, s, source, key)
                return
            except SchemaError:
                continue
        raise SchemaError(source, key, f"expected {describe(spec)}, got {value!r}")
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            raise SchemaError(source, key, f"expected {describe(spec)}, got {value!r}")
        for i, v in enumerate(value):
            check(v, spec.item, source, f"{key}[{i}]")
        return
    if isinstance(spec, (MapOf, Record, Tagged)) and not isinstance(value, dict):
        raise SchemaError(source, key, f"expected an object, got {value!r}")
    if isinstance(spec, MapOf):
        for k, v in value.items():
            check(v, spec.value, source, _join(key, k))
        return
    if isinstance(spec, Tagged):
        kind = value.get(spec.tag)
        if kind not in spec.variants:
            raise SchemaError(source, _join(key, spec.tag),
                              f"unknown {spec.tag} {kind!r}; choose one of: "
                              f"{', '.join(spec.variants)}")
        check(value, spec.variants[kind], source, key)
        return
    if isinstance(spec, Record):
        # unknown keys first: a misspelt key is also a missing one
        for k in value:
            if spec.spec_of(k) is None:
                known = ", ".join(f.rstrip("?") for f in spec.fields)
                raise SchemaError(source, _join(key, k), f"unknown key (known: {known})")
        for k in spec.required():
            if k not in value:
                raise SchemaError(source, _join(key, k), "missing")
        for k, v in value.items():
            check(v, spec.spec_of(k), source, _join(key, k))
        return
    if spec is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif spec is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, spec)
    if not ok:
        raise SchemaError(source, key, f"expected {describe(spec)}, got {value!r}")


def load(path: Path, spec: Any, source: str | None = None) -> Any:
    """A JSON file, parsed and checked against `spec`."""
    name = source or str(path)
    try:
        value = json.loads(path.read_text())
    except ValueError as e:
        raise SchemaError(name, "", f"not valid JSON ({e})") from None
    check(value, spec, name)
    return value

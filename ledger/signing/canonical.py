"""Canonical JSON (RFC 8785 / JCS) for signed statements, and typed conversion to JSON values.

Signed statements only hold JSON-native values: str, int (|n| < 2**53), bool, None, lists and
objects whose keys are in the Basic Multilingual Plane. For that subset RFC 8785 equals
`json.dumps(sort_keys=True, compact, ensure_ascii=False)`: keys sort the same by UTF-16 code unit
as by code point when none needs a surrogate pair,
integers print exactly, and Python escapes control characters as JCS does (lowercase `\\u00xx`).
`canonical_bytes` uses that fast path and refuses values outside the subset; the property tests
check it against the `rfc8785` package.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Callable
from uuid import UUID

SAFE_INTEGER_MAX = 2**53 - 1  # JCS numbers are IEEE doubles: larger integers lose precision


class CanonicalError(ValueError):
    """A value that has no canonical JSON form in our subset."""


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, (str, bool)):
        return
    if isinstance(value, int):
        if abs(value) > SAFE_INTEGER_MAX:
            raise CanonicalError(f"{path}: integer {value} is outside the JSON safe range")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or any(ord(c) > 0xFFFF for c in key):
                raise CanonicalError(f"{path}: object keys must be strings in the Basic Multilingual Plane")
            _check(item, f"{path}.{key}")
        return
    raise CanonicalError(f"{path}: {type(value).__name__} is not allowed in a signed statement")


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def canonical_bytes(value: Any, *, checked: bool = True) -> bytes:
    """RFC 8785 bytes of a JSON value made of our subset."""
    if checked:
        _check(value, "$")
    return _ENCODER.encode(value).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Typed values <-> JSON values. Events hold UUIDs, dates, datetimes and enums; statements hold
# their JSON forms. Decoding is driven by the event class's annotations.


def to_json_value(value: Any) -> Any:
    """A domain value as a JSON value (UUID, date and datetime become ISO strings)."""
    if value is None or isinstance(value, (str, bool, int)):
        if isinstance(value, enum.Enum):
            return value.value
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        assert value.tzinfo is not None, "event datetimes are timezone-aware"
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise CanonicalError(f"{type(value).__name__} has no JSON form")


Converter = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


@lru_cache(maxsize=None)
def converter_for(annotation: Any) -> Converter:
    """A function turning the JSON form back into a value of `annotation`."""
    if annotation in (Any, str, int, bool, type(None)) or annotation is typing.Any:
        return _identity
    if annotation is UUID:
        return lambda v: v if isinstance(v, UUID) else UUID(v)
    if annotation is datetime:
        return datetime.fromisoformat
    if annotation is date:
        return date.fromisoformat
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [converter_for(a) for a in args if a is not type(None)]
        if len(inner) == 1:
            only = inner[0]
            return lambda v: None if v is None else only(v)
        return _identity
    if origin in (list, typing.List):
        item = converter_for(args[0]) if args else _identity
        return lambda v: [item(x) for x in v]
    if origin in (tuple, typing.Tuple):
        if len(args) == 2 and args[1] is Ellipsis:
            item = converter_for(args[0])
            return lambda v: tuple(item(x) for x in v)
        items = [converter_for(a) for a in args]
        return lambda v: tuple(c(x) for c, x in zip(items, v, strict=True))
    if origin in (dict, typing.Dict):
        value_converter = converter_for(args[1]) if args else _identity
        key_converter = converter_for(args[0]) if args else _identity
        return lambda v: {key_converter(k): value_converter(x) for k, x in v.items()}
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        hints = typing.get_type_hints(annotation)
        fields = [(f.name, converter_for(hints[f.name])) for f in dataclasses.fields(annotation)]
        cls = annotation
        return lambda v: cls(**{name: conv(v[name]) for name, conv in fields})
    return _identity


@lru_cache(maxsize=None)
def field_converters(cls: type) -> dict[str, Converter]:
    """Converters for every annotated field of an event class (its whole MRO)."""
    hints = typing.get_type_hints(cls)
    return {name: converter_for(annotation) for name, annotation in hints.items()}


# ---------------------------------------------------------------------------------------------
# Reading JSON from outside (bundles, receipts, proof files, uploads, request bodies): bounded.

JSON_DEPTH_MAX = 64  # our deepest document (a bundle) nests 6 levels; 64 leaves room, refuses `[`×990


class JsonInputError(ValueError):
    """Bytes from outside that are not a JSON document we accept: malformed, not UTF-8, holding a lone
    surrogate, or nested deeper than JSON_DEPTH_MAX. The message says which, in Chinese and English."""


def _depth_exceeds(value: Any, depth_max: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > depth_max:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads_bounded(data: bytes | str, *, depth_max: int = JSON_DEPTH_MAX, **options: Any) -> Any:
    """`json.loads` for untrusted bytes: total (raises only JsonInputError), depth-bounded, and
    refusing lone surrogates (`"\\ud800"`), which no UTF-8 text can hold and which crash encoders
    further on. `options` go to json.loads (object_pairs_hook, parse_float, …)."""
    try:
        value = json.loads(data, **options)
    except RecursionError:
        raise JsonInputError(f"JSON 嵌套过深（最多 {depth_max} 层）/ JSON nested deeper than {depth_max}") from None
    except (UnicodeDecodeError, ValueError, TypeError) as error:
        if isinstance(error, JsonInputError):
            raise
        raise JsonInputError(f"不是有效的 JSON 文档 / not a JSON document: {error}") from None
    if _depth_exceeds(value, depth_max):
        raise JsonInputError(f"JSON 嵌套过深（最多 {depth_max} 层）/ JSON nested deeper than {depth_max}")
    if _has_lone_surrogate(value):
        raise JsonInputError("JSON 含无效的 Unicode 代理字符 / JSON holds a lone surrogate escape")
    return value

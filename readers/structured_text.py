"""YAML and JSON text -> plain data, strictly: a duplicate key is an error naming both lines,
nesting too deep is one line, and no message repeats the text it could not read.

`yaml.safe_load` semantics (never a tag that builds objects), with libyaml's parser when
PyYAML has it (several times faster on large sweeps); JSON through the standard library.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from infscale.engine.errors import SpecError
from infscale.engine.validation import shown

_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, source: str) -> Any:
    """YAML text -> plain data; `SpecError` naming the line on malformed text or a duplicate key."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise SpecError(source, f"line {exc.line}", f"duplicate key {shown(exc.key)} (first at line {exc.first})") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
        problem = exc.problem or exc.context or "malformed YAML"
        raise SpecError(source, where, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise SpecError(source, "(yaml)", f"invalid YAML: {type(exc).__name__}") from None
    except RecursionError:
        raise SpecError(source, "(yaml)", "nested too deeply to be a spec") from None


def parse_json(text: str, source: str) -> Any:
    """JSON text -> plain data; `SpecError` naming the line on malformed text or a duplicate key."""
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as exc:
        first, again = _json_key_lines(text, exc.key)
        raise SpecError(source, f"line {again}", f"duplicate key {shown(exc.key)} (first at line {first})") from None
    except json.JSONDecodeError as exc:
        raise SpecError(source, f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise SpecError(source, "(json)", "nested too deeply to be a spec or a price map") from None


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int = 0, first: int = 0) -> None:
        super().__init__(key)
        self.key, self.line, self.first = key, line, first


class _StrictLoader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """A safe loader whose mappings refuse a key given twice, and that resolves each distinct
    plain scalar's type once (a large sweep repeats the same few values thousands of times, and
    the resolver's regular expressions were most of its parsing time)."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode or not isinstance(value, str) or len(value) > 64:
            return super().resolve(kind, value, implicit)
        cache = self.__dict__.setdefault("_resolved_tags", {})  # one per document read
        key = (value, tuple(implicit) if implicit else None)
        tag = cache.get(key)
        if tag is None:
            tag = cache[key] = super().resolve(kind, value, implicit)
        return tag

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise _DuplicateKey(key, line, seen[key])
                seen[key] = line
            except TypeError:  # an unhashable key: the base class says what is wrong with it
                break
        return super().construct_mapping(node, deep)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _json_key_lines(text: str, key: str) -> tuple[int, int]:
    """The lines of the first two places `"key":` stands in the text (json gives no positions)."""
    pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
    lines = [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)]
    return (lines[0], lines[1]) if len(lines) >= 2 else (0, 0)

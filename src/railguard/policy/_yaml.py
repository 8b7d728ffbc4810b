"""YAML loading that remembers line numbers, so every policy error can point at file:line."""

from __future__ import annotations

import functools
from typing import Any

from railguard.errors import PolicyError


class LineDict(dict[str, Any]):
    """A mapping that knows the line it started on and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    line: int = 0


def _constructors() -> tuple[Any, Any]:
    import yaml

    def construct_mapping(loader: Any, node: yaml.MappingNode) -> LineDict:
        loader.flatten_mapping(node)
        mapping = LineDict()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                key = str(key)
            if key in mapping:
                raise PolicyError(
                    f"duplicate key '{key}' (first at line {mapping.key_lines[key]})",
                    line=line,
                    key=key,
                    fix="remove one of the two; YAML would silently keep only the last",
                )
            mapping[key] = loader.construct_object(value_node, deep=True)
            mapping.key_lines[key] = line
        return mapping

    def construct_sequence(loader: Any, node: yaml.SequenceNode) -> LineList:
        seq = LineList(loader.construct_object(child, deep=True) for child in node.value)
        seq.line = node.start_mark.line + 1
        return seq

    return construct_mapping, construct_sequence


@functools.cache
def _loaders() -> tuple[type[Any] | None, type[Any]]:
    """(libyaml's loader if PyYAML was built with it, the pure-Python loader), both with the line
    constructors. Built on first parse: a process whose policies all come from the parsed-data cache
    never imports PyYAML. libyaml is about ten times faster on the built-in packs; its error messages
    are worded a little differently, so a document it rejects is parsed again by the pure-Python
    loader for the message."""
    import yaml

    class LineLoader(yaml.SafeLoader):
        pass

    fast: type[Any] | None = None
    if getattr(yaml, "__with_libyaml__", False):

        class CLineLoader(yaml.CSafeLoader):
            pass

        fast = CLineLoader
    mapping, sequence = _constructors()
    for loader in (LineLoader, fast):
        if loader is not None:
            loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
            loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, sequence)
    return fast, LineLoader


def load_yaml(text: str, file: str) -> Any:
    """Parse YAML text; syntax errors and duplicate keys become `PolicyError` with file and line. A
    text parsed before (by this user, with this code) comes from the parsed-data cache."""
    from railguard._parsed_cache import cached

    return cached("policy", text.encode("utf-8", "surrogatepass"), (__file__,), lambda: _parse(text, file),
                  _encode, _decode)  # fmt: skip


def _parse(text: str, file: str) -> Any:
    import yaml

    fast, slow = _loaders()
    if fast is not None:
        try:
            return yaml.load(text, Loader=fast)
        except (yaml.YAMLError, PolicyError):
            pass  # reported below, in the words of the pure-Python loader
    try:
        return yaml.load(text, Loader=slow)
    except PolicyError as err:
        err.file = file
        raise PolicyError(err.message, file=file, line=err.line, key=err.key, fix=err.fix) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        raise PolicyError(
            f"invalid YAML: {err.problem or err}",
            file=file,
            line=line,
            fix="check indentation and quoting near this line (quote CEL expressions that contain ': ' or '#')",
        ) from None
    except yaml.YAMLError as err:
        raise PolicyError(f"invalid YAML: {err}", file=file) from None


# In the cache a LineDict is ("m", line, ((key, key_line, value), ...)) and a LineList ("s", line,
# (value, ...)): safe-loaded YAML holds no tuples of its own, so a tuple is always one of these.
def _encode(value: Any) -> Any:
    if isinstance(value, LineDict):
        return (
            "m",
            value.line,
            tuple((k, value.key_lines.get(k, value.line), _encode(v)) for k, v in value.items()),
        )
    if isinstance(value, LineList):
        return ("s", value.line, tuple(_encode(v) for v in value))
    if isinstance(value, dict | list | tuple):  # not made by the line loader: do not cache
        raise ValueError("unexpected container")
    return value


def _decode(value: Any) -> Any:
    if not isinstance(value, tuple):
        return value
    tag, line, items = value
    if tag == "m":
        mapping = LineDict()
        mapping.line = line
        mapping.key_lines = {}
        for key, key_line, item in items:
            mapping[key] = _decode(item)
            mapping.key_lines[key] = key_line
        return mapping
    seq = LineList(_decode(item) for item in items)
    seq.line = line
    return seq


def line_of(value: Any, default: int | None = None) -> int | None:
    return getattr(value, "line", default) or default

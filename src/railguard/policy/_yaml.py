"""YAML loading that remembers line numbers, so every policy error can point at file:line."""

from __future__ import annotations

from typing import Any

import yaml

from railguard.errors import PolicyError


class LineDict(dict[str, Any]):
    """A mapping that knows the line it started on and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    line: int = 0


class _LineLoader(yaml.SafeLoader):
    pass


# The same constructors over libyaml's parser, when PyYAML was built with it: about ten times faster
# on the built-in packs, which every engine loads. Its error messages are worded a little
# differently, so a document it rejects is parsed again by the pure-Python loader for the message.
_FastLoader: type[Any] | None = None
if getattr(yaml, "__with_libyaml__", False):

    class _CLineLoader(yaml.CSafeLoader):
        pass

    _FastLoader = _CLineLoader


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
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


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    seq = LineList(loader.construct_object(child, deep=True) for child in node.value)
    seq.line = node.start_mark.line + 1
    return seq


for _loader in (_LineLoader, _FastLoader):
    if _loader is not None:
        _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
        _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str, file: str) -> Any:
    """Parse YAML text; syntax errors and duplicate keys become `PolicyError` with file and line."""
    if _FastLoader is not None:
        try:
            return yaml.load(text, Loader=_FastLoader)
        except (yaml.YAMLError, PolicyError):
            pass  # reported below, in the words of the pure-Python loader
    try:
        return yaml.load(text, Loader=_LineLoader)
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


def line_of(value: Any, default: int | None = None) -> int | None:
    return getattr(value, "line", default) or default

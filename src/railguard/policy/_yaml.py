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


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str, file: str) -> Any:
    """Parse YAML text; syntax errors and duplicate keys become `PolicyError` with file and line."""
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

"""Typed tool contracts: JSON Schema (or a Pydantic model) for a tool's arguments and output.

The fast path is a validator compiled once (fastjsonschema). Only when it fails do we ask
`jsonschema` for every error, and we phrase them from the schema and the path alone: an error
message never echoes the value, which may be a secret. Both load only when a policy declares a
contract (or a check fails one): a policy without contracts never pays for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Schema = Mapping[str, Any]


def schema_of(contract: Any) -> dict[str, Any]:
    """A JSON Schema from a schema mapping or a Pydantic model class."""
    if isinstance(contract, Mapping):
        return dict(contract)
    to_schema = getattr(contract, "model_json_schema", None)
    if callable(to_schema):
        return dict(to_schema())
    raise TypeError(
        f"a contract must be a JSON Schema mapping or a Pydantic model class, not {type(contract).__name__}"
    )


def _where(path: Any) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "(root)"


def describe_errors(schema: Schema, value: Any, root: str) -> list[str]:
    """One line per violation: which field, what was expected. Never the offending value."""
    from jsonschema.validators import validator_for

    validator = validator_for(schema)(schema)
    out: list[str] = []
    for err in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        field = f"{root}.{_where(err.absolute_path)}" if err.absolute_path else root
        kind, expected = err.validator, err.validator_value
        if kind == "required":
            missing = [k for k in expected if not (isinstance(err.instance, Mapping) and k in err.instance)]
            out.extend(f"{field}: missing required field '{k}'" for k in missing)
        elif kind == "type":
            out.append(f"{field}: must be of type {expected}, got {_json_type(err.instance)}")
        elif kind == "additionalProperties":
            extra = sorted(
                set(err.instance) - set(err.schema.get("properties", {}))
                if isinstance(err.instance, Mapping)
                else []
            )
            out.append(f"{field}: unexpected field(s) {', '.join(repr(k) for k in extra)}")
        elif kind == "enum":
            out.append(f"{field}: must be one of {list(expected)}")
        elif kind == "const":
            out.append(f"{field}: must equal {expected!r}")
        elif kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
            words = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
            out.append(f"{field}: must be {words.get(kind, 'a multiple of')} {expected}")
        elif kind in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
            out.append(f"{field}: {kind} is {expected}")
        elif kind == "pattern":
            out.append(f"{field}: must match the pattern {expected!r}")
        elif kind == "format":
            out.append(f"{field}: must be a valid {expected}")
        else:
            out.append(f"{field}: fails the '{kind}' constraint")
    return out or [f"{root}: does not match its schema"]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


@dataclass(frozen=True, slots=True)
class Contract:
    """Compiled argument and output validators for one tool (or one agent step)."""

    name: str
    args_schema: Schema | None
    output_schema: Schema | None
    _args_fast: Callable[[Any], bool] | None  # is the value valid? (describe_errors says why not)
    _output_fast: Callable[[Any], bool] | None
    output_model: Any = None  # a Pydantic model class: outputs are parsed into it

    def check_args(self, args: Mapping[str, Any]) -> list[str]:
        if self._args_fast is None or self.args_schema is None:
            return []
        if self._args_fast(dict(args)):
            return []
        return describe_errors(self.args_schema, dict(args), "args")

    def check_output(self, value: Any) -> tuple[Any, list[str]]:
        """Returns (value, errors); with a Pydantic output model the value comes back parsed."""
        if self.output_model is not None:
            from pydantic import ValidationError

            try:
                if isinstance(value, self.output_model):
                    return value, []
                return self.output_model.model_validate(value), []
            except ValidationError as err:
                return value, [
                    f"output.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                    if e["loc"]
                    else f"output: {e['msg']}"
                    for e in err.errors(include_input=False, include_url=False)
                ]
        if self._output_fast is None or self.output_schema is None:
            return value, []
        if self._output_fast(value):
            return value, []
        return value, describe_errors(self.output_schema, value, "output")


def _fast(schema: Schema | None) -> Callable[[Any], bool] | None:
    if schema is None:
        return None
    import fastjsonschema

    try:
        compiled = fastjsonschema.compile(dict(schema))
    except Exception:
        # A schema fastjsonschema can't compile (rare drafts/keywords): fall back to jsonschema.
        from jsonschema.validators import validator_for

        is_valid: Callable[[Any], bool] = validator_for(schema)(schema).is_valid
        return is_valid
    invalid = fastjsonschema.JsonSchemaException

    def valid(value: Any) -> bool:
        try:
            compiled(value)
        except invalid:
            return False
        return True

    return valid


def compile_contract(name: str, args: Any = None, output: Any = None) -> Contract:
    args_schema = None if args is None else schema_of(args)
    output_schema = None if output is None else schema_of(output)
    model = output if output is not None and hasattr(output, "model_validate") else None
    return Contract(name, args_schema, output_schema, _fast(args_schema), _fast(output_schema), model)

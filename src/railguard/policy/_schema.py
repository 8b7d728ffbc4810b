"""The policy file schema: turns parsed YAML into typed specs, with file:line errors that say the fix.

A policy file is a mapping (header fields, `include`, `tools`, `rules`) or, Falco style, a bare list
of `list` / `macro` / `rule` items.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from railguard.errors import PolicyError
from railguard.model import Effect, Mode, Severity, Trust, Verdict
from railguard.policy._collect import close_matches, skip_item
from railguard.policy._cushions import CushionsSpec, parse_cushions
from railguard.policy._yaml import LineDict, line_of

POLICY_KEYS = (
    "name",
    "version",
    "description",
    "mode",
    "on_error",
    "deadline_ms",
    "include",
    "tools",
    "rules",
    "entitlements",
    "budgets",
    "limits",
    "loops",
)
RULE_KEYS = (
    "rule", "desc", "tools", "when", "verdict", "message", "severity", "tags", "mode", "enabled",
    "exceptions", "modify", "approval",
)  # fmt: skip
LIST_KEYS = ("list", "items", "append")
MACRO_KEYS = ("macro", "condition")
TOOL_KEYS = ("effect", "output_trust", "untrusted_fields", "args", "output", "roles", "description")
EXCEPTION_KEYS = ("name", "when")
MODIFY_KEYS = ("set", "remove", "redact")
APPROVAL_KEYS = ("scope", "ttl", "match")
APPROVAL_SCOPES = ("call", "session", "tool")
ENTITLEMENT_KEYS = ("roles", "users", "mode", "message")
GRANT_KEYS = ("tools", "when")
# The one rule an `entitlements:` section compiles into (the last file's section wins).
ENTITLEMENTS_RULE = "entitlements/not-entitled"
_TTL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_TTL_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MATURITY = ("stable", "incubating", "sandbox")
ARG_ROLES = ("command", "path", "url", "sql", "text")
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ALIASES = {"condition": "when", "output": "message", "priority": "severity", "action": "verdict"}


@dataclass(frozen=True, slots=True)
class Loc:
    file: str
    line: int | None


@dataclass(frozen=True, slots=True)
class ListSpec:
    name: str
    items: tuple[Any, ...]
    append: bool
    loc: Loc


@dataclass(frozen=True, slots=True)
class MacroSpec:
    name: str
    condition: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class ExceptionSpec:
    name: str
    when: str
    line: int | None


@dataclass(frozen=True, slots=True)
class ModifySpec:
    set: Mapping[str, str]  # argument name -> CEL expression giving its new value
    remove: tuple[str, ...]
    redact: tuple[str, ...] | None  # detector kinds to redact in string arguments; () = all kinds
    line: int | None


@dataclass(frozen=True, slots=True)
class ApprovalSpec:
    """How far a human's approval of an `ask` reaches: this exact call, every call of the tool in this
    session, or every call of the tool (for the tenant); `match` (CEL over args) narrows the latter."""

    scope: str = "call"
    ttl_s: float | None = None
    match: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    """Tools (names or globs) a role or user may call, optionally only when `when` (CEL) holds."""

    tools: tuple[str, ...]
    when: str | None = None


@dataclass(frozen=True, slots=True)
class EntitlementsSpec:
    roles: Mapping[str, tuple[Grant, ...]]
    users: Mapping[str, tuple[Grant, ...]]

    @property
    def covered_tools(self) -> tuple[str, ...]:
        """Every tool pattern some grant names: calls to these tools are denied unless granted."""
        grants = [g for gs in (*self.roles.values(), *self.users.values()) for g in gs]
        return tuple(dict.fromkeys(t for g in grants for t in g.tools))


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str
    loc: Loc
    desc: str = ""
    tools: tuple[str, ...] = ()
    when: str | None = None
    verdict: Verdict = Verdict.BLOCK
    message: str = ""
    severity: Severity = Severity.MEDIUM
    tags: tuple[str, ...] = ()
    mode: Mode | None = None
    enabled: bool = True
    exceptions: tuple[ExceptionSpec, ...] = ()
    modify: ModifySpec | None = None
    approval: ApprovalSpec | None = None
    entitlements: EntitlementsSpec | None = None
    key_lines: Mapping[str, int] = field(default_factory=dict)
    only_enabled: bool = False  # an item that only toggles an included rule on or off

    @property
    def maturity(self) -> str:
        return self.tags[0] if self.tags and self.tags[0] in MATURITY else "stable"


@dataclass(frozen=True, slots=True)
class ToolDecl:
    name: str
    loc: Loc
    effect: Effect = Effect.UNKNOWN
    output_trust: Trust = Trust.TRUSTED
    args_schema: Mapping[str, Any] | None = None
    output_schema: Mapping[str, Any] | None = None
    roles: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    untrusted_fields: tuple[str, ...] = ()


Item = ListSpec | MacroSpec | RuleSpec


@dataclass(frozen=True, slots=True)
class PolicyDoc:
    """One file, parsed and checked, before includes are merged."""

    file: str
    name: str | None
    version: str | None
    description: str
    mode: Mode | None
    on_error: Verdict | None
    deadline_ms: float | None
    includes: tuple[tuple[str, int | None], ...]
    tools: tuple[ToolDecl, ...]
    items: tuple[Item, ...]
    cushions: CushionsSpec = field(default_factory=CushionsSpec)


class _Checker:
    """Small helpers that raise `PolicyError` located in one file."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(
        self, message: str, line: int | None, key: str | None = None, fix: str | None = None
    ) -> NoReturn:
        raise PolicyError(message, file=self.file, line=line, key=key, fix=fix)

    def keys(self, data: LineDict, allowed: tuple[str, ...], what: str) -> None:
        for key in data:
            if key in allowed:
                continue
            alias = _ALIASES.get(key)
            close = [alias] if alias in allowed else close_matches(key, allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            self.fail(
                f"unknown key '{key}' in {what}",
                data.line_of(key),
                key,
                f"{hint}allowed keys: {', '.join(allowed)}",
            )

    def text(self, data: LineDict, key: str, default: str = "") -> str:
        value = data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str | int | float):
            self.fail(f"'{key}' must be a string", data.line_of(key), key)
        return str(value)

    def enum(self, data: LineDict, key: str, enum: Any, default: Any = None) -> Any:
        if key not in data or data[key] is None:
            return default
        value = data[key]
        choices = [e.value for e in enum]
        if isinstance(value, str) and value.lower() in choices:
            return enum(value.lower())
        close = close_matches(str(value), choices, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        self.fail(
            f"invalid {key} {value!r}", data.line_of(key), key, f"{hint}use one of: {', '.join(choices)}"
        )

    def str_list(self, data: LineDict, key: str) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
            self.fail(f"'{key}' must be a list of strings", data.line_of(key), key)
        return tuple(str(v) for v in value)

    def boolean(self, data: LineDict, key: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.fail(f"'{key}' must be true or false", data.line_of(key), key)
        return value

    def schema(self, data: LineDict, key: str) -> Mapping[str, Any] | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail(f"'{key}' must be a JSON Schema object", data.line_of(key), key)
        from jsonschema.exceptions import SchemaError
        from jsonschema.validators import validator_for

        plain = _plain(value)
        try:
            validator_for(plain).check_schema(plain)
        except SchemaError as err:
            path = "/".join(str(p) for p in err.path) or "(root)"
            self.fail(
                f"'{key}' is not a valid JSON Schema at {path}: {err.message}",
                data.line_of(key),
                key,
                "see https://json-schema.org/understanding-json-schema/ for the schema format",
            )
        return plain


def _plain(value: Any) -> Any:
    """Drop the line-tracking subclasses (JSON Schema validators want plain dicts and lists)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_document(data: Any, file: str) -> PolicyDoc:
    check = _Checker(file)
    if data is None:
        data = LineDict()
        data.line, data.key_lines = 1, {}
    if isinstance(data, list):
        wrapped = LineDict(rules=data)
        wrapped.line, wrapped.key_lines = 1, {"rules": 1}
        data = wrapped
    if not isinstance(data, LineDict):
        check.fail(
            "a policy file must be a mapping (name, mode, include, tools, rules) or a list of items",
            line_of(data, 1),
            fix="start the file with e.g. 'name: my-policy' and a 'rules:' list",
        )
    check.keys(data, POLICY_KEYS, "the policy")
    deadline = data.get("deadline_ms")
    if deadline is not None and (
        isinstance(deadline, bool) or not isinstance(deadline, int | float) or deadline <= 0
    ):
        check.fail("'deadline_ms' must be a positive number of milliseconds", data.line_of("deadline_ms"))
    version = data.get("version")
    return PolicyDoc(
        file=file,
        name=check.text(data, "name") or None,
        version=None if version is None else str(version),
        description=check.text(data, "description"),
        mode=check.enum(data, "mode", Mode),
        on_error=_on_error(check, data),
        deadline_ms=None if deadline is None else float(deadline),
        includes=_includes(check, data),
        tools=_tools(check, data),
        items=_items(check, data) + _entitlements(check, data),
        cushions=parse_cushions(data, file, check.fail),
    )


def _on_error(check: _Checker, data: LineDict) -> Verdict | None:
    value = check.enum(data, "on_error", Verdict)
    if value is Verdict.MODIFY:
        check.fail(
            "on_error cannot be 'modify'", data.line_of("on_error"), "on_error", "use block, ask or allow"
        )
    return value


def _includes(check: _Checker, data: LineDict) -> tuple[tuple[str, int | None], ...]:
    names = check.str_list(data, "include")
    line = data.line_of("include") if "include" in data else None
    return tuple((name, line) for name in names)


def _tools(check: _Checker, data: LineDict) -> tuple[ToolDecl, ...]:
    tools = data.get("tools")
    if tools is None:
        return ()
    if not isinstance(tools, LineDict):
        check.fail(
            "'tools' must be a mapping of tool name to its declaration",
            data.line_of("tools"),
            "tools",
            "write e.g.\n  tools:\n    send_money:\n      effect: irreversible",
        )
    out = []
    for name, decl in tools.items():
        try:
            out.append(_tool(check, tools, name, decl))
        except PolicyError as error:
            skip_item(error)  # `policy validate` goes on to report the other tools' errors
    return tuple(out)


def _tool(check: _Checker, tools: LineDict, name: Any, decl: Any) -> ToolDecl:
    """One tool declaration."""
    line = tools.line_of(name)
    if decl is None:
        decl = LineDict()
        decl.line, decl.key_lines = line, {}
    if not isinstance(decl, LineDict):
        check.fail(f"tool '{name}' must be a mapping (effect, args, output, ...)", line, name)
    check.keys(decl, TOOL_KEYS, f"tool '{name}'")
    roles = decl.get("roles") or {}
    if not isinstance(roles, Mapping):
        check.fail("'roles' must map argument names to a role", decl.line_of("roles"), "roles")
    for arg, role in roles.items():
        if role not in ARG_ROLES:
            check.fail(
                f"unknown role {role!r} for argument '{arg}'",
                decl.line_of("roles"),
                "roles",
                f"use one of: {', '.join(ARG_ROLES)}",
            )
    return ToolDecl(
        name=str(name),
        loc=Loc(check.file, line),
        effect=check.enum(decl, "effect", Effect, Effect.UNKNOWN),
        output_trust=check.enum(decl, "output_trust", Trust, Trust.TRUSTED),
        args_schema=check.schema(decl, "args"),
        output_schema=check.schema(decl, "output"),
        roles={str(k): str(v) for k, v in roles.items()},
        description=check.text(decl, "description"),
        untrusted_fields=check.str_list(decl, "untrusted_fields"),
    )


def _items(check: _Checker, data: LineDict) -> tuple[Item, ...]:
    rules = data.get("rules")
    if rules is None:
        return ()
    if not isinstance(rules, list):
        check.fail("'rules' must be a list of list/macro/rule items", data.line_of("rules"), "rules")
    items: list[Item] = []
    for raw in rules:
        try:
            items.append(_item(check, raw, rules))
        except PolicyError as error:
            skip_item(error)  # `policy validate` goes on to report the other items' errors
    return tuple(items)


def _item(check: _Checker, raw: Any, rules: list[Any]) -> Item:
    """One list/macro/rule item of the rules list."""
    if not isinstance(raw, LineDict):
        check.fail(
            "each item must be a mapping starting with 'rule:', 'list:' or 'macro:'",
            line_of(raw, line_of(rules)),
            fix="write e.g. '- rule: block-prod-deletes'",
        )
    kinds = [k for k in ("rule", "list", "macro") if k in raw]
    if len(kinds) != 1:
        check.fail(
            "each item needs exactly one of 'rule', 'list' or 'macro'",
            raw.line,
            fix="split this item in two, or add the missing 'rule:' id",
        )
    kind = kinds[0]
    if kind == "list":
        return _list(check, raw)
    if kind == "macro":
        return _macro(check, raw)
    return _rule(check, raw)


def _name(check: _Checker, raw: LineDict, key: str) -> str:
    name = raw.get(key)
    if not isinstance(name, str) or not _NAME.match(name):
        check.fail(
            f"{key} name {name!r} must be an identifier (letters, digits, _)",
            raw.line_of(key),
            key,
            "list and macro names are used inside CEL conditions, so they must be valid identifiers",
        )
    return name


def _list(check: _Checker, raw: LineDict) -> ListSpec:
    check.keys(raw, LIST_KEYS, f"list '{raw.get('list')}'")
    name = _name(check, raw, "list")
    items = raw.get("items", [])
    if not isinstance(items, list):
        check.fail(f"list '{name}': 'items' must be a list", raw.line_of("items"), "items")
    return ListSpec(name, tuple(items), check.boolean(raw, "append", False), Loc(check.file, raw.line))


def _macro(check: _Checker, raw: LineDict) -> MacroSpec:
    check.keys(raw, MACRO_KEYS, f"macro '{raw.get('macro')}'")
    name = _name(check, raw, "macro")
    condition = raw.get("condition")
    if not isinstance(condition, str | bool):
        check.fail(f"macro '{name}' needs a 'condition' (CEL)", raw.line, "condition")
    text = condition if isinstance(condition, str) else ("true" if condition else "false")
    return MacroSpec(name, text, Loc(check.file, raw.line))


def _rule(check: _Checker, raw: LineDict) -> RuleSpec:
    rule_id = raw.get("rule")
    if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
        check.fail(
            f"rule id {rule_id!r} is invalid",
            raw.line,
            "rule",
            "use letters, digits and - _ . : / (e.g. 'payments/large-transfer')",
        )
    check.keys(raw, RULE_KEYS, f"rule '{rule_id}'")
    loc = Loc(check.file, raw.line)
    if set(raw) <= {"rule", "enabled"} and "enabled" in raw:
        return RuleSpec(id=rule_id, loc=loc, enabled=check.boolean(raw, "enabled", True), only_enabled=True)
    if "verdict" not in raw:
        check.fail(
            f"rule '{rule_id}' has no 'verdict'",
            raw.line,
            "verdict",
            "add 'verdict: block' (or allow, ask, modify)",
        )
    verdict = check.enum(raw, "verdict", Verdict)
    modify = _modify(check, raw, rule_id)
    if verdict is Verdict.MODIFY and modify is None:
        check.fail(
            f"rule '{rule_id}' has verdict modify but no 'modify' block",
            raw.line_of("verdict"),
            "modify",
            "add e.g. 'modify: {redact: [secrets]}' or 'modify: {set: {limit: \"100\"}}'",
        )
    if modify is not None and verdict is not Verdict.MODIFY:
        check.fail(
            f"rule '{rule_id}' has a 'modify' block but verdict {verdict.value}",
            raw.line_of("modify"),
            "modify",
            "set 'verdict: modify' or remove the 'modify' block",
        )
    when = raw.get("when")
    if when is not None and not isinstance(when, str | bool):
        check.fail(f"rule '{rule_id}': 'when' must be a CEL expression string", raw.line_of("when"), "when")
    return RuleSpec(
        id=rule_id,
        loc=loc,
        desc=check.text(raw, "desc"),
        tools=check.str_list(raw, "tools"),
        when=None if when is None else (when if isinstance(when, str) else str(when).lower()),
        verdict=verdict,
        message=check.text(raw, "message"),
        severity=check.enum(raw, "severity", Severity, Severity.MEDIUM),
        tags=check.str_list(raw, "tags"),
        mode=check.enum(raw, "mode", Mode),
        enabled=check.boolean(raw, "enabled", True),
        exceptions=_exceptions(check, raw, rule_id),
        modify=modify,
        approval=_approval(check, raw, rule_id, verdict),
        key_lines=dict(raw.key_lines),
    )


def _exceptions(check: _Checker, raw: LineDict, rule_id: str) -> tuple[ExceptionSpec, ...]:
    value = raw.get("exceptions")
    if value is None:
        return ()
    if not isinstance(value, list):
        check.fail(
            f"rule '{rule_id}': 'exceptions' must be a list of {{name, when}}",
            raw.line_of("exceptions"),
            "exceptions",
        )
    out: list[ExceptionSpec] = []
    for exc in value:
        if not isinstance(exc, LineDict) or not isinstance(exc.get("when"), str):
            check.fail(
                f"rule '{rule_id}': each exception needs 'name' and a CEL 'when'",
                line_of(exc, raw.line_of("exceptions")),
                "exceptions",
                "write e.g. '- {name: staging, when: ctx.env == \"staging\"}'",
            )
        check.keys(exc, EXCEPTION_KEYS, f"an exception of rule '{rule_id}'")
        out.append(ExceptionSpec(str(exc.get("name") or f"exception-{len(out) + 1}"), exc["when"], exc.line))
    return tuple(out)


def _modify(check: _Checker, raw: LineDict, rule_id: str) -> ModifySpec | None:
    value = raw.get("modify")
    if value is None:
        return None
    if not isinstance(value, LineDict):
        check.fail(f"rule '{rule_id}': 'modify' must be a mapping", raw.line_of("modify"), "modify")
    check.keys(value, MODIFY_KEYS, f"the modify block of rule '{rule_id}'")
    sets = value.get("set") or {}
    if not isinstance(sets, Mapping) or not all(isinstance(v, str) for v in sets.values()):
        check.fail(
            "'modify.set' must map argument names to CEL expressions (strings)",
            value.line_of("set"),
            "set",
            "quote literal strings inside the expression, e.g. set: {mode: '\"read-only\"'}",
        )
    redact: tuple[str, ...] | None
    raw_redact = value.get("redact")
    if raw_redact is None or raw_redact is False:
        redact = None
    elif raw_redact is True:
        redact = ()
    else:
        redact = check.str_list(value, "redact")
    if not sets and not value.get("remove") and redact is None:
        check.fail(
            f"rule '{rule_id}': the modify block changes nothing",
            value.line,
            "modify",
            "give at least one of set, remove, redact",
        )
    return ModifySpec(
        set={str(k): v for k, v in sets.items()},
        remove=check.str_list(value, "remove"),
        redact=redact,
        line=value.line,
    )


def _approval(check: _Checker, raw: LineDict, rule_id: str, verdict: Verdict) -> ApprovalSpec | None:
    value = raw.get("approval")
    if value is None:
        return None
    line = raw.line_of("approval")
    if verdict is not Verdict.ASK:
        check.fail(
            f"rule '{rule_id}' has an 'approval' block but verdict {verdict.value}",
            line,
            "approval",
            "set 'verdict: ask' or remove the 'approval' block",
        )
    if not isinstance(value, LineDict):
        check.fail(
            f"rule '{rule_id}': 'approval' must be a mapping",
            line,
            "approval",
            "write e.g. 'approval: {scope: session, ttl: 8h}'",
        )
    check.keys(value, APPROVAL_KEYS, f"the approval block of rule '{rule_id}'")
    scope = str(value.get("scope") or "call")
    if scope not in APPROVAL_SCOPES:
        check.fail(
            f"invalid approval scope {scope!r}", value.line_of("scope"), "scope", "use call, session or tool"
        )
    match = value.get("match")
    if match is not None and not isinstance(match, str):
        check.fail("'approval.match' must be a CEL expression over args", value.line_of("match"), "match")
    if match is not None and scope == "call":
        check.fail(
            "'approval.match' needs scope session or tool (a call-scope approval covers exactly one call)",
            value.line_of("match"),
            "match",
        )
    ttl_s = None if value.get("ttl") is None else _ttl_seconds(check, value)
    return ApprovalSpec(scope, ttl_s, match, value.line)


def _ttl_seconds(check: _Checker, data: LineDict) -> float:
    raw = data["ttl"]
    found = None if isinstance(raw, bool) else _TTL.match(str(raw))
    if found is None or float(found.group(1)) <= 0:
        check.fail(
            f"invalid ttl {raw!r}",
            data.line_of("ttl"),
            "ttl",
            "use seconds or a number with s/m/h/d, e.g. 30m",
        )
    return float(found.group(1)) * _TTL_UNIT[found.group(2)]


def _entitlements(check: _Checker, data: LineDict) -> tuple[Item, ...]:
    """The `entitlements:` section becomes one deny-by-default rule over every tool it names, checked
    against the acting user (`ctx.user`, `ctx.roles`), never the agent's own identity."""
    section = data.get("entitlements")
    if section is None:
        return ()
    line = data.line_of("entitlements")
    if not isinstance(section, LineDict):
        check.fail(
            "'entitlements' must be a mapping with 'roles' and/or 'users'",
            line,
            "entitlements",
            "write e.g.\n  entitlements:\n    roles:\n      support: [crm_read]",
        )
    check.keys(section, ENTITLEMENT_KEYS, "the entitlements section")
    spec = EntitlementsSpec(_grants(check, section, "roles"), _grants(check, section, "users"))
    if not spec.covered_tools:
        check.fail("the entitlements section grants no tools", line, "entitlements")
    alternatives = [
        _grant_condition(f"{json.dumps(name, ensure_ascii=False)} in ctx.roles", grant)
        for name, grants in spec.roles.items()
        for grant in grants
    ] + [
        _grant_condition(f"ctx.user == {json.dumps(name, ensure_ascii=False)}", grant)
        for name, grants in spec.users.items()
        for grant in grants
    ]
    default_message = "the acting user is not entitled to call '${tool}' with these arguments"
    return (
        RuleSpec(
            id=ENTITLEMENTS_RULE,
            loc=Loc(check.file, line),
            desc="least privilege: the acting user's roles and grants (policy entitlements)",
            tools=spec.covered_tools,
            when="!(" + " || ".join(alternatives) + ")",
            verdict=Verdict.BLOCK,
            message=check.text(section, "message") or default_message,
            severity=Severity.HIGH,
            tags=("stable", "entitlements"),
            mode=check.enum(section, "mode", Mode),
            entitlements=spec,
            key_lines={"when": line, "message": section.line_of("message")},
        ),
    )


def _grants(check: _Checker, section: LineDict, key: str) -> Mapping[str, tuple[Grant, ...]]:
    value = section.get(key)
    if not value:
        return {}
    if not isinstance(value, LineDict):
        check.fail(f"'entitlements.{key}' must map each name to its grants", section.line_of(key), key)
    out: dict[str, tuple[Grant, ...]] = {}
    for name, raw in value.items():
        where = value.line_of(name)
        if not isinstance(raw, list) or not raw:
            check.fail(
                f"the grants of '{name}' must be a non-empty list",
                where,
                key,
                "list tool globs, or {tools: [...], when: <CEL over args>} items",
            )
        grants: list[Grant] = []
        for item in raw:
            if isinstance(item, str):
                grants.append(Grant((item,)))
                continue
            if not isinstance(item, LineDict):
                check.fail(f"a grant of '{name}' must be a tool glob or a mapping", where, key)
            check.keys(item, GRANT_KEYS, f"a grant of '{name}'")
            tools = check.str_list(item, "tools")
            when = item.get("when")
            if not tools or (when is not None and not isinstance(when, str)):
                check.fail(f"a grant of '{name}' needs 'tools' and an optional CEL 'when'", item.line, key)
            grants.append(Grant(tools, when))
        out[str(name)] = tuple(grants)
    return out


def _grant_condition(who: str, grant: Grant) -> str:
    exact = [t for t in grant.tools if not any(ch in t for ch in "*?[")]
    tests = [f"glob(tool, {json.dumps(t, ensure_ascii=False)})" for t in grant.tools if t not in exact]
    if exact:
        tests.append(f"tool in {json.dumps(exact, ensure_ascii=False)}")
    parts = [who, "(" + " || ".join(tests) + ")"]
    if grant.when:
        parts.append(f"({grant.when})")
    return "(" + " && ".join(parts) + ")"

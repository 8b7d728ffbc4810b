"""Compiling a merged policy: CEL compiled once, rules indexed by tool, contracts prepared.

A `CompiledPolicy` is immutable; reloading builds a new one and swaps the reference, so a check in
flight always sees one whole policy.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cel

from railguard.detect.facts import FACTS
from railguard.errors import PolicyError
from railguard.model import Mode, Severity, ToolSpec, Trust, Verdict
from railguard.policy._cel import (
    Condition,
    Template,
    compile_condition,
    compile_template,
    merge_fields,
    new_cel_context,
)
from railguard.policy._collect import skip_item
from railguard.policy._contracts import Contract, compile_contract
from railguard.policy._loader import PolicySource
from railguard.policy._memo import memo_for
from railguard.policy._schema import ListSpec, MacroSpec, RuleSpec

BASE_VARIABLES = frozenset({"tool", "args", "ctx", "effect", "trust"})


@dataclass(frozen=True, slots=True)
class CompiledModify:
    set: tuple[tuple[str, Condition], ...]
    remove: tuple[str, ...]
    redact: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    spec: RuleSpec
    condition: Condition | None
    exceptions: tuple[tuple[str, Condition], ...]
    message: Template
    modify: CompiledModify | None
    variables: frozenset[str]
    fields: Mapping[str, frozenset[str] | None]
    mode: Mode
    verdict: Verdict
    severity: Severity
    tags: tuple[str, ...]
    order: int


@dataclass(frozen=True, slots=True)
class ToolPlan:
    """What a check of one tool name evaluates: the rules that can apply and the facts they read."""

    rules: tuple[CompiledRule, ...]
    variables: frozenset[str]
    fields: Mapping[str, frozenset[str] | None]  # per variable, the fields read (None: all)
    facts: tuple[str, ...]
    spec: ToolSpec | None
    contract: Contract | None
    fast: bool = False  # some condition has a Python closure (see `_fastcel`)


class CompiledPolicy:
    """An immutable, ready-to-evaluate policy."""

    def __init__(self, source: PolicySource) -> None:
        self.source = source
        self.name = source.name
        self.revision = source.revision
        self.mode = source.mode
        self.on_error = source.on_error or (Verdict.BLOCK if source.mode is Mode.ENFORCE else Verdict.ALLOW)
        self.deadline_ns = int(source.deadline_ms * 1_000_000)
        self.lists: dict[str, list[Any]] = {}
        macros: dict[str, str] = {}
        for item in source.items:
            if isinstance(item, ListSpec):
                self.lists[item.name] = [_plain(v) for v in item.items]
            elif isinstance(item, MacroSpec):
                macros[item.name] = item.condition
        reserved = BASE_VARIABLES | set(FACTS) | set(macros)
        for item in source.items:
            if isinstance(item, ListSpec) and item.name in reserved:
                raise PolicyError(
                    f"list name '{item.name}' is reserved or also a macro",
                    file=item.loc.file,
                    line=item.loc.line,
                    key="list",
                    fix=f"rename the list; reserved names: {', '.join(sorted(BASE_VARIABLES | set(FACTS)))}",
                )
        self.known_variables = frozenset(BASE_VARIABLES | set(FACTS) | set(self.lists))
        self.macros = macros
        for item in source.items:  # a macro's errors are reported at the macro, not at every use
            if isinstance(item, MacroSpec):
                try:
                    self._compile(item.condition, item.loc.file, item.loc.line, f"macro {item.name}")
                except PolicyError as error:
                    skip_item(error)
        rules: list[CompiledRule] = []
        for i, item in enumerate(x for x in source.items if isinstance(x, RuleSpec)):
            try:
                if item.enabled:
                    rules.append(self._compile_rule(item, i))
            except PolicyError as error:
                skip_item(error)  # raises unless `policy validate` is collecting every error
        self.rules: tuple[CompiledRule, ...] = tuple(rules)
        self.tools: dict[str, ToolSpec] = {}
        self.contracts: dict[str, Contract] = {}
        for decl in source.tools.values():
            self.tools[decl.name] = ToolSpec(
                name=decl.name,
                effect=decl.effect,
                output_trust=decl.output_trust,
                args_schema=decl.args_schema,
                output_schema=decl.output_schema,
                roles=decl.roles,
                description=decl.description,
                untrusted_fields=decl.untrusted_fields,
            )
            if decl.args_schema is not None or decl.output_schema is not None:
                self.contracts[decl.name] = compile_contract(decl.name, decl.args_schema, decl.output_schema)
        self._exact: dict[str, list[CompiledRule]] = {}
        self._patterns: list[tuple[Callable[[str], bool], CompiledRule]] = []
        self._universal: list[CompiledRule] = []
        for rule in self.rules:
            self._index(rule)
        self._plans: OrderedDict[str, ToolPlan] = OrderedDict()
        self._plans_lock = threading.Lock()
        self._local = threading.local()
        self.outcomes = memo_for(source.digest)  # the policy step's outcome per action seen (see `_memo`)

    # -- compile ---------------------------------------------------------------------------------

    def _compile(self, expr: str, file: str, line: int | None, key: str) -> Condition:
        return compile_condition(
            expr,
            macros=self.macros,
            known_variables=self.known_variables,
            file=file,
            line=line,
            key=key,
            constants=self.lists,
        )

    def _compile_rule(self, spec: RuleSpec, order: int) -> CompiledRule:
        file, lines = spec.loc.file, spec.key_lines
        condition = (
            self._compile(spec.when, file, lines.get("when", spec.loc.line), "when")
            if spec.when and spec.when.strip() != "true"
            else None
        )
        exceptions = tuple(
            (exc.name, self._compile(exc.when, file, exc.line, "exceptions")) for exc in spec.exceptions
        )
        message = compile_template(
            spec.message or spec.desc or f"rule {spec.id}",
            macros=self.macros,
            known_variables=self.known_variables,
            file=file,
            line=lines.get("message", spec.loc.line),
            key="message",
        )
        modify = None
        if spec.modify is not None:
            modify = CompiledModify(
                set=tuple(
                    (arg, self._compile(expr, file, spec.modify.line, f"modify.set.{arg}"))
                    for arg, expr in spec.modify.set.items()
                ),
                remove=spec.modify.remove,
                redact=_redaction_kinds(spec.modify.redact, file, spec.modify.line),
            )
        variables = set(message.variables)
        fields = message.fields
        sets = modify.set if modify is not None else ()
        for cond in (condition, *(c for _, c in exceptions), *(c for _, c in sets)):
            if cond is not None:
                variables |= cond.variables
                merge_fields(fields, cond.fields)
        for pattern in spec.tools:
            if pattern in self.lists:
                continue
            if not pattern or any(ch.isspace() for ch in pattern):
                raise PolicyError(
                    f"rule '{spec.id}': invalid tool name or glob {pattern!r}",
                    file=file,
                    line=lines.get("tools"),
                    key="tools",
                    fix="use tool names or globs like 'mcp__github__*'",
                )
        mode = Mode.AUDIT if self.mode is Mode.AUDIT else spec.mode or Mode.ENFORCE
        return CompiledRule(
            id=spec.id,
            spec=spec,
            condition=condition,
            exceptions=exceptions,
            message=message,
            modify=modify,
            variables=frozenset(variables),
            fields=fields,
            mode=mode,
            verdict=spec.verdict,
            severity=spec.severity,
            tags=spec.tags,
            order=order,
        )

    def _index(self, rule: CompiledRule) -> None:
        patterns: list[str] = []
        for entry in rule.spec.tools:
            patterns.extend(str(t) for t in self.lists[entry]) if entry in self.lists else patterns.append(
                entry
            )
        if not patterns or "*" in patterns:
            self._universal.append(rule)
            return
        for pattern in patterns:
            if any(ch in pattern for ch in "*?["):
                self._patterns.append((_glob_matcher(pattern), rule))
            else:
                self._exact.setdefault(pattern, []).append(rule)

    # -- evaluate-time helpers -------------------------------------------------------------------

    def plan(self, tool: str) -> ToolPlan:
        """The rules that can apply to `tool` (cached per tool name, bounded)."""
        plan = self._plans.get(tool)
        if plan is not None:
            return plan
        seen: dict[str, CompiledRule] = {}
        for rule in self._exact.get(tool, ()):
            seen[rule.id] = rule
        for matches, rule in self._patterns:
            if rule.id not in seen and matches(tool):
                seen[rule.id] = rule
        for rule in self._universal:
            seen[rule.id] = rule
        rules = tuple(sorted(seen.values(), key=lambda r: r.order))
        variables = frozenset().union(*(r.variables for r in rules)) if rules else frozenset()
        fields: dict[str, frozenset[str] | None] = {}
        for rule in rules:
            merge_fields(fields, rule.fields)
        facts = _facts_read(variables)
        fast = any(
            c.fast is not None
            for r in rules
            for c in (r.condition, *(e for _, e in r.exceptions))
            if c is not None
        )
        plan = ToolPlan(rules, variables, fields, facts, self.tools.get(tool), self.contracts.get(tool), fast)
        with self._plans_lock:
            self._plans[tool] = plan
            if len(self._plans) > 4096:
                self._plans.popitem(last=False)
        return plan

    def cel_context(self) -> cel.Context:
        """A per-thread CEL context with functions and lists set once; checks update the rest."""
        ctx: cel.Context | None = getattr(self._local, "ctx", None)
        if ctx is None:
            ctx = new_cel_context()
            if self.lists:
                ctx.update(dict(self.lists))
            self._local.ctx = ctx
        return ctx

    @property
    def redaction_kinds(self) -> list[tuple[str, ...] | None]:
        """Every kinds set a modify rule redacts with (their matchers are built at load)."""
        return [
            r.modify.redact or None
            for r in self.rules
            if r.modify is not None and r.modify.redact is not None
        ]

    @property
    def facts_used(self) -> frozenset[str]:
        """The detector facts any rule reads (warmed at load)."""
        return frozenset(_facts_read(frozenset().union(*(r.variables for r in self.rules))))

    def trust_of(self, tool: str) -> Trust:
        spec = self.tools.get(tool)
        return spec.output_trust if spec else Trust.TRUSTED

    def rule(self, rule_id: str) -> CompiledRule | None:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        return None


def _facts_read(variables: frozenset[str]) -> tuple[str, ...]:
    """The facts these variables read, in registry order. `paths` and `net` include what the shell
    command touches, so reading them means computing `shell` first."""
    facts = tuple(f for f in FACTS if f in variables)
    if any(FACTS[f].needs_shell for f in facts) and "shell" not in facts:
        facts = ("shell", *facts)
    return facts


def _redaction_kinds(kinds: tuple[str, ...] | None, file: str, line: int | None) -> tuple[str, ...] | None:
    """`redact: [secrets]` / `[pii]` name every kind of the group; unknown kinds fail the load."""
    if not kinds:
        return kinds
    groups = _redaction_groups()
    secret_kinds, pii_kinds = groups["secrets"], groups["pii"]
    out: list[str] = []
    for kind in kinds:
        if kind in groups:
            out.extend(sorted(groups[kind]))
        elif kind in secret_kinds or kind in pii_kinds:
            out.append(kind)
        else:
            raise PolicyError(
                f"unknown redaction kind '{kind}'",
                file=file,
                line=line,
                key="redact",
                fix="use 'secrets', 'pii' or kinds such as: " + ", ".join(sorted(secret_kinds | pii_kinds)),
            )
    return tuple(dict.fromkeys(out))


def _redaction_groups() -> dict[str, frozenset[str]]:
    """The kinds `redact` knows, by group. Only their names: they come from the parsed-data cache
    while the detectors' code is unchanged, since building the scanners to learn them (re2 and
    regular expressions) was a twentieth of a one-action `railguard check`."""
    import os

    import railguard.detect
    from railguard._parsed_cache import cached

    root = os.path.dirname(railguard.detect.__file__)
    secrets = os.path.join(root, "secrets")
    code = [os.path.join(root, "redact.py"), os.path.join(root, "pii.py")]
    code += sorted(os.path.join(secrets, name) for name in os.listdir(secrets) if name.endswith(".py"))

    def read() -> dict[str, frozenset[str]]:
        from railguard.detect.redact import PII_KINDS, SECRET_KINDS

        return {"secrets": SECRET_KINDS, "pii": PII_KINDS}

    return cached(
        "redaction-kinds",
        b"",
        code,
        read,
        encode=lambda groups: {name: sorted(kinds) for name, kinds in groups.items()},
        decode=lambda stored: {str(name): frozenset(kinds) for name, kinds in stored.items()},
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _glob_matcher(pattern: str) -> Callable[[str], bool]:
    """`fnmatch.fnmatchcase(name, pattern)` as a function. A pattern of literal parts joined by `*`
    (`mcp__*`, `*_delete_*`), nearly every tool glob, is matched without compiling a regular
    expression: compiling one per glob was a noticeable part of loading a policy."""
    if "?" in pattern or "[" in pattern:
        regex = re.compile(fnmatch.translate(pattern))
        return lambda name: regex.match(name) is not None
    first, *middle, last = pattern.split("*")
    least = len(first) + len(last) + sum(map(len, middle))

    def matches(name: str) -> bool:
        if len(name) < least or not name.startswith(first) or not name.endswith(last):
            return False
        at, end = len(first), len(name) - len(last)
        for part in middle:
            found = name.find(part, at, end)
            if found < 0:
                return False
            at = found + len(part)
        return True

    return matches

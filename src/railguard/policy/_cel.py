"""CEL conditions: macro expansion, compile-time checks of variables and functions, message templates.

CEL is compiled once at policy load. We check names statically so that a typo fails the load with a
file:line error instead of failing closed on every call at run time.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cel
from cel.stdlib import STDLIB_FUNCTIONS

from railguard.errors import PolicyError
from railguard.policy._collect import close_matches
from railguard.policy._fastcel import FastCondition, compile_fast

# Functions the Rust CEL runtime implements natively (names as `Program.functions()` reports them).
_NATIVE_FUNCTIONS = frozenset(
    {
        "size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double", "string",
        "bytes", "timestamp", "duration", "dyn", "type", "has", "all", "exists", "exists_one", "map",
        "filter", "max", "min", "getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate",
        "getDayOfWeek", "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    }
)  # fmt: skip

_COMPREHENSION_BINDING = re.compile(r"\.\s*(?:all|exists_one|exists|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
_IDENT = re.compile(r"[A-Za-z_]\w*")


@lru_cache(maxsize=4096)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def _glob(value: str, pattern: str) -> bool:
    """`glob(s, "*.pem")`: shell-style match; a `/`-free pattern also matches the basename."""
    if _glob_regex(pattern).match(value):
        return True
    return "/" not in pattern and bool(_glob_regex(pattern).match(value.rsplit("/", 1)[-1]))


def _in_cidr(ip: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _lower(value: str) -> str:
    return value.lower()


def _host_matches(host: str, pattern: str) -> bool:
    """`host_matches(h, "*.example.com")`: domain (and subdomains), glob, exact IP or CIDR patterns."""
    from railguard.detect.net import host_matches

    return host_matches(host, pattern)


# Functions Railguard adds to every policy, on top of the CEL extended standard library.
RAILGUARD_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "glob": _glob,
    "in_cidr": _in_cidr,
    "lower": _lower,
    "host_matches": _host_matches,
}

ALL_FUNCTIONS: dict[str, Callable[..., Any]] = {**STDLIB_FUNCTIONS, **RAILGUARD_FUNCTIONS}
KNOWN_FUNCTIONS = frozenset(_NATIVE_FUNCTIONS | set(ALL_FUNCTIONS))


def new_cel_context() -> cel.Context:
    """A context with every function registered; callers update its variables per action."""
    return cel.Context(functions=dict(ALL_FUNCTIONS))


def _scan_code_spans(expr: str) -> list[tuple[int, int]]:
    """Spans of `expr` outside string literals (CEL: '..', "..", triple quotes, r/b prefixes)."""
    spans: list[tuple[int, int]] = []
    i, start, n = 0, 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch in "'\"":
            if i > start:
                spans.append((start, i))
            quote = expr[i : i + 3] if expr[i : i + 3] in ("'''", '"""') else ch
            raw = i > 0 and expr[i - 1] in "rR"
            j = i + len(quote)
            while j < n:
                if not raw and expr[j] == "\\":
                    j += 2
                    continue
                if expr.startswith(quote, j):
                    j += len(quote)
                    break
                j += 1
            i = start = j
            continue
        i += 1
    if start < n:
        spans.append((start, n))
    return spans


def identifiers(expr: str) -> list[tuple[int, int, str]]:
    """Top-level identifiers (not member names after a dot) outside string literals."""
    out = []
    for a, b in _scan_code_spans(expr):
        for m in _IDENT.finditer(expr, a, b):
            k = m.start() - 1
            while k >= 0 and expr[k].isspace():
                k -= 1
            if k >= 0 and expr[k] == ".":
                continue
            out.append((m.start(), m.end(), m.group()))
    return out


def expand_macros(expr: str, macros: Mapping[str, str], _stack: tuple[str, ...] = ()) -> str:
    """Replace each macro name with its (parenthesized, recursively expanded) condition."""
    if not macros:
        return expr
    pieces, last = [], 0
    for start, end, name in identifiers(expr):
        if name not in macros:
            continue
        if name in _stack:
            cycle = " -> ".join((*_stack, name))
            raise PolicyError(
                f"macro cycle: {cycle}", key="macro", fix="a macro must not refer to itself, even indirectly"
            )
        pieces.append(expr[last:start])
        pieces.append("(" + expand_macros(macros[name], macros, (*_stack, name)) + ")")
        last = end
    pieces.append(expr[last:])
    return "".join(pieces)


def field_access(expr: str, variables: frozenset[str]) -> dict[str, frozenset[str] | None]:
    """For each variable, the top-level fields the expression reads (`ctx.env` -> {"env"}), or None
    when it uses the variable whole (`args.size()`, `"x" in args`). Converting a value into CEL costs
    about a microsecond per string, so a check passes only the fields its rules read."""
    fields: dict[str, set[str] | None] = {v: set() for v in variables}
    for _start, end, name in identifiers(expr):
        if name not in fields or fields[name] is None:
            continue
        m = _MEMBER.match(expr, end)
        if m is None:
            fields[name] = None
        else:
            fields[name].add(m.group(1))  # type: ignore[union-attr]
    return {k: None if v is None else frozenset(v) for k, v in fields.items()}


_MEMBER = re.compile(r"\s*\.\s*([A-Za-z_]\w*)\b(?!\s*\()")


def merge_fields(
    into: dict[str, frozenset[str] | None], other: Mapping[str, frozenset[str] | None]
) -> dict[str, frozenset[str] | None]:
    for name, wanted in other.items():
        if name in into:
            have = into[name]
            into[name] = None if have is None or wanted is None else have | wanted
        else:
            into[name] = wanted
    return into


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled CEL expression, the variables it reads (so facts are computed only when needed) and
    which of their fields."""

    source: str
    expanded: str
    program: cel.Program
    variables: frozenset[str]
    fields: Mapping[str, frozenset[str] | None]
    fast: FastCondition | None = None  # the same answer without the runtime, when it can (_fastcel)

    def evaluate(self, context: cel.Context) -> Any:
        return self.program.execute(context)


def compile_condition(
    source: Any,
    *,
    macros: Mapping[str, str],
    known_variables: frozenset[str],
    file: str | None,
    line: int | None,
    key: str,
    constants: Mapping[str, Any] | None = None,
) -> Condition:
    """`constants`: the policy's lists, which a condition's Python closure (if any) reads as such."""
    if isinstance(source, bool):
        source = "true" if source else "false"
    if not isinstance(source, str) or not source.strip():
        raise PolicyError(
            f"'{key}' must be a CEL expression string",
            file=file,
            line=line,
            key=key,
            fix='write a CEL condition, e.g. when: args.amount > 100 && ctx.env == "prod"',
        )
    try:
        expanded = expand_macros(source, macros)
    except PolicyError as err:
        raise PolicyError(err.message, file=file, line=line, key=key, fix=err.fix) from None
    try:
        program = cel.compile(expanded)
    except ValueError as err:
        detail = str(err).split("ERROR:", 1)[-1].strip().splitlines()[0]
        raise PolicyError(
            f"invalid CEL in '{key}': {detail}",
            file=file,
            line=line,
            key=key,
            fix="check the expression's syntax: CEL uses && || ! == and double-quoted strings",
        ) from None
    bound = set(_COMPREHENSION_BINDING.findall(expanded))
    variables = frozenset(v for v in program.variables() if v not in bound)
    unknown = sorted(variables - known_variables)
    if unknown:
        name = unknown[0]
        close = close_matches(name, sorted(known_variables), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise PolicyError(
            f"unknown variable '{name}' in '{key}': {source!r}",
            file=file,
            line=line,
            key=key,
            fix=f"{hint}known variables: {', '.join(sorted(known_variables))}",
        )
    for fn in program.functions():
        if fn[:1] in "_@!" or fn in KNOWN_FUNCTIONS:
            continue
        close = close_matches(fn, sorted(KNOWN_FUNCTIONS), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise PolicyError(
            f"unknown function '{fn}' in '{key}'",
            file=file,
            line=line,
            key=key,
            fix=f"{hint}see the policy reference for the available functions",
        )
    fast = compile_fast(expanded, constants) if constants is not None else None
    return Condition(source, expanded, program, variables, field_access(expanded, variables), fast)


_TEMPLATE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True, slots=True)
class Template:
    """A rule message with `${cel}` placeholders, rendered only when the rule fires."""

    text: str
    parts: tuple[Condition, ...]

    @property
    def variables(self) -> frozenset[str]:
        return frozenset().union(*(p.variables for p in self.parts)) if self.parts else frozenset()

    @property
    def fields(self) -> dict[str, frozenset[str] | None]:
        out: dict[str, frozenset[str] | None] = {}
        for part in self.parts:
            merge_fields(out, part.fields)
        return out

    def render(self, context: cel.Context) -> str:
        if not self.parts:
            return self.text
        values = iter(self.parts)

        def substitute(_: re.Match[str]) -> str:
            cond = next(values)
            try:
                value = cond.evaluate(context)
            except Exception:
                return "?"
            if isinstance(value, list):
                return ", ".join(str(v) for v in value)
            return str(value)

        return _TEMPLATE.sub(substitute, self.text)


def compile_template(
    text: str,
    *,
    macros: Mapping[str, str],
    known_variables: frozenset[str],
    file: str | None,
    line: int | None,
    key: str,
) -> Template:
    parts = tuple(
        compile_condition(
            m.group(1), macros=macros, known_variables=known_variables, file=file, line=line, key=key
        )
        for m in _TEMPLATE.finditer(text)
    )
    return Template(text, parts)

"""Policy unit tests: `*_test.yaml` files next to a policy, run by `railguard test PATH`.

policy: payments.yaml          # optional: defaults to this file's name without `_test`
packs: [default]               # optional: packs loaded with it
cases:
  - name: a large transfer needs approval
    action: {tool: send_money, args: {amount: 900}, context: {env: prod}}
    expect: ask                # allow | block | ask | modify
    rule: payments/large       # optional: this rule must be among those that fired
    args: {amount: 500}        # optional, for modify: the rewritten arguments must include these
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from railguard.errors import PolicyError, PolicyTestError
from railguard.model import Action, Verdict
from railguard.policy._yaml import LineDict, line_of, load_yaml

TEST_KEYS = ("policy", "packs", "cases")
CASE_KEYS = ("name", "action", "expect", "rule", "args")


class Status(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class CaseResult:
    file: str
    line: int | None
    name: str
    status: Status
    expected: str
    got: str
    rules: tuple[str, ...]
    message: str


def find_test_files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        return sorted(x for x in p.rglob("*_test.yaml") if x.is_file())
    raise PolicyTestError(f"no such file or directory: {p}", fix="pass a *_test.yaml file or a folder")


def run_test_file(path: str | Path) -> list[CaseResult]:
    """Run every case of one test file. A broken file or policy gives one ERROR result, not a crash."""
    from railguard.engine import Engine

    file = str(path)
    try:
        data = load_yaml(Path(path).read_text(encoding="utf-8"), file)
        if not isinstance(data, LineDict) or not isinstance(data.get("cases"), list):
            raise PolicyTestError(
                "a policy test file must be a mapping with a 'cases' list",
                file=file,
                line=line_of(data, 1),
                fix="see `railguard test --help` for the format",
            )
        for key in data:
            if key not in TEST_KEYS:
                raise PolicyTestError(
                    f"unknown key '{key}'",
                    file=file,
                    line=data.line_of(key),
                    fix=f"allowed: {', '.join(TEST_KEYS)}",
                )
        paths, packs = _policy_of(Path(path), data)
        engine = Engine(paths or None, packs=packs) if paths or packs else None
        if engine is None:
            raise PolicyTestError(
                "no policy to test",
                file=file,
                fix="add 'policy: FILE' or name the test after its policy (policy_test.yaml)",
            )
    except (PolicyError, OSError) as err:
        return [CaseResult(file, getattr(err, "line", None), "(load)", Status.ERROR, "", "", (), str(err))]
    return [_run_case(engine, file, case, i) for i, case in enumerate(data["cases"])]


def _policy_of(path: Path, data: LineDict) -> tuple[list[str], list[str]]:
    packs_value = data.get("packs") or []
    packs = [packs_value] if isinstance(packs_value, str) else [str(p) for p in packs_value]
    policy = data.get("policy")
    paths: list[str] = []
    refs = [policy] if isinstance(policy, str) else list(policy or [])
    for ref in refs:
        if str(ref).startswith("pack:"):
            packs.append(str(ref)[5:])
        else:
            paths.append(str(path.parent / str(ref)))
    if not refs:
        sibling = path.with_name(path.name.replace("_test.yaml", ".yaml"))
        if sibling != path and sibling.exists():
            paths.append(str(sibling))
    return paths, packs


def _run_case(engine: Any, file: str, case: Any, index: int) -> CaseResult:
    line = line_of(case)
    name = str(case.get("name") or f"case {index + 1}") if isinstance(case, dict) else f"case {index + 1}"

    def error(message: str) -> CaseResult:
        return CaseResult(file, line, name, Status.ERROR, "", "", (), message)

    if not isinstance(case, LineDict):
        return error("a case must be a mapping with 'action' and 'expect'")
    unknown = [k for k in case if k not in CASE_KEYS]
    if unknown:
        return error(f"unknown key '{unknown[0]}' (allowed: {', '.join(CASE_KEYS)})")
    expect = str(case.get("expect", "")).lower()
    if expect not in {v.value for v in Verdict}:
        return error(f"'expect' must be one of allow, block, ask, modify (got {case.get('expect')!r})")
    try:
        action = Action.from_dict(case.get("action") or {})
    except ValueError as err:
        return error(f"invalid action: {err}")
    decision = engine.check(action)
    got = decision.verdict.value
    problems = []
    if got != expect:
        problems.append(f"expected {expect}, got {got}: {decision.reason}")
    want_rule = case.get("rule")
    if want_rule is not None and str(want_rule) not in decision.rules:
        problems.append(f"expected rule '{want_rule}' to fire; fired: {list(decision.rules) or 'none'}")
    want_args = case.get("args")
    if want_args is not None:
        have = dict(decision.args or {})
        wrong = [k for k, v in dict(want_args).items() if have.get(k) != v]
        if wrong:
            problems.append(f"rewritten args differ at {wrong}")
    status = Status.FAIL if problems else Status.PASS
    return CaseResult(
        file, line, name, status, expect, got, decision.rules, "; ".join(problems) or decision.reason
    )


def run_tests(paths: list[str | Path]) -> Iterator[CaseResult]:
    for path in paths:
        for file in find_test_files(path):
            yield from run_test_file(file)

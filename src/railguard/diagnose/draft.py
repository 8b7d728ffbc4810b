"""Rules in plain English: a configured LLM drafts a policy rule and its unit tests; the real compiler
and the real test runner check them, and their errors (file:line, failing cases) go back to the
model a bounded number of times; the valid draft is backtested on stored history. Nothing here
activates anything: the result is for a person to review and accept.

    result = draft_rule("never let the deploy agent run terraform apply against a prod workspace",
                        setting="anthropic:claude-sonnet-4-5", current=CurrentPolicy(paths=("policy.yaml",)),
                        store=store, since=time.time() - 7 * 86400, until=time.time())
    if result.valid:
        print(result.policy_yaml, result.backtest.to_json(), result.flags)

The model sees the request, a compact description of the policy format and of the CEL variables, the
tools seen in the window (names, argument keys, agents, a few redacted example arguments) and the
names the current policy already uses. It answers with one JSON object: {"policy", "tests", "summary"}.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from railguard.diagnose import _llm
from railguard.diagnose._draft_prompt import MAX_REQUEST, SYSTEM, actions, clip, feedback, prompt
from railguard.diagnose._stored_runs import StoredHistory, read_history
from railguard.diagnose.backtest import BacktestReport, backtest, replay_engine
from railguard.errors import DraftError, PolicyError
from railguard.policy import load_policy, load_source
from railguard.policy._schema import ListSpec, MacroSpec, RuleSpec
from railguard.policy.testing import CaseResult, Status, run_test_file
from railguard.store import Store

__all__ = [
    "DEFAULT_RETRIES",
    "LARGE_SHARE",
    "MAX_RETRIES",
    "CurrentPolicy",
    "DraftError",
    "DraftResult",
    "draft_rule",
]

DEFAULT_RETRIES = 3
MAX_RETRIES = 10
LARGE_SHARE = 0.20  # a draft that would stop more than this share of the window's calls is flagged
DRAFT_FILE = "draft.yaml"
DRAFT_KEYS = ("name", "description", "rules")
MAX_ANSWER = 40_000


@dataclass(frozen=True, slots=True)
class CurrentPolicy:
    """The policy in force: files and built-in packs (empty: compare with no policy at all)."""

    paths: tuple[str, ...] = ()
    packs: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.paths and not self.packs


@dataclass(slots=True)
class DraftResult:
    request: str
    model: str
    attempts: int = 0
    valid: bool = False
    policy_yaml: str = ""
    cases_yaml: str = ""  # the model's `cases:`; `tests_yaml(name)` is the test file to write
    summary: str = ""
    errors: list[str] = field(default_factory=list)  # the last attempt's problems (none when valid)
    cases: list[CaseResult] = field(default_factory=list)
    backtest: BacktestReport | None = None
    compared_with: str = "the current policy"
    flags: list[str] = field(default_factory=list)  # what a reviewer must look at before accepting
    notes: list[str] = field(default_factory=list)
    rule_ids: list[str] = field(default_factory=list)

    def tests_yaml(self, policy_file: str = DRAFT_FILE) -> str:
        return f"policy: {policy_file}\n{self.cases_yaml.rstrip()}\n"

    def to_json(self) -> dict[str, Any]:
        report = self.backtest
        return {
            "request": self.request,
            "model": self.model,
            "valid": self.valid,
            "attempts": self.attempts,
            "summary": self.summary,
            "rules": self.rule_ids,
            "policy_yaml": self.policy_yaml,
            "tests_yaml": self.tests_yaml() if self.cases_yaml else "",
            "errors": self.errors,
            "cases": [
                {
                    "name": c.name,
                    "status": c.status.value,
                    "expected": c.expected,
                    "got": c.got,
                    "rules": list(c.rules),
                    "message": c.message,
                }
                for c in self.cases
            ],
            "backtest": None
            if report is None
            else {
                **report.to_json(),
                "compared_with": self.compared_with,
                "share_stopped": self.share_stopped,
            },
            "flags": self.flags,
            "notes": self.notes,
            "active": False,  # a draft is never activated: a person accepts it
        }

    @property
    def share_stopped(self) -> float | None:
        """The share of the window's calls the draft newly blocks or asks about."""
        report = self.backtest
        if report is None or not report.actions:
            return None
        return (report.newly_blocked + report.newly_asked) / report.actions


@dataclass(slots=True)
class _Checked:
    policy: str = ""
    cases: str = ""
    summary: str = ""
    errors: list[str] = field(default_factory=list)
    results: list[CaseResult] = field(default_factory=list)
    rule_ids: list[str] = field(default_factory=list)


def draft_rule(
    request: str,
    *,
    setting: str | None,
    current: CurrentPolicy,
    store: Store | None,
    since: float,
    until: float,
    tenant: str | None = None,
    retries: int = DEFAULT_RETRIES,
) -> DraftResult:
    """Draft, check (with up to `retries` corrections by the model) and backtest a rule for `request`.
    Raises DraftError when no model is configured or the provider call fails; PolicyError when the
    current policy does not load. A draft still invalid after the retries comes back `valid=False`."""
    text = request.strip()
    if not text:
        raise DraftError("the request is empty: describe the rule in a sentence", usage=True)
    if len(text) > MAX_REQUEST:
        raise DraftError(
            f"the request is longer than {MAX_REQUEST} characters: describe one rule", usage=True
        )
    if not 0 <= retries <= MAX_RETRIES:
        raise DraftError(f"retries must be between 0 and {MAX_RETRIES}", usage=True)
    try:
        parsed = _llm.parse_setting(setting)
    except ValueError as err:
        raise DraftError(str(err), usage=True) from None
    if parsed is None:
        raise DraftError(NO_MODEL, usage=True)
    provider, model = parsed
    current_source = load_source(list(current.paths), list(current.packs)) if not current.empty else None
    taken = _names(current_source.items) if current_source is not None else set()
    history = (
        read_history(store, since=since, until=until, tenant=tenant) if store is not None else StoredHistory()
    )
    result = DraftResult(request=text, model=f"{provider}:{model}")
    if current.empty:
        result.compared_with = "no policy"
    messages = [{"role": "user", "content": prompt(text, history, taken)}]
    with tempfile.TemporaryDirectory(prefix="railguard-draft-", ignore_cleanup_errors=True) as tmp:
        folder = Path(tmp)
        checked = _Checked()
        for attempt in range(1, retries + 2):
            result.attempts = attempt
            try:
                answer = _llm.chat(provider, model, SYSTEM, messages, max_tokens=4000)
            except Exception as err:  # the SDK's errors; never the key: the type and status only
                status = getattr(err, "status_code", None)
                raise DraftError(
                    f"the {provider} call failed ({type(err).__name__}{f' {status}' if status else ''})"
                ) from None
            checked = _check(answer[:MAX_ANSWER], current, taken, folder)
            if not checked.errors:
                break
            messages.append({"role": "assistant", "content": answer[:MAX_ANSWER] or "(empty answer)"})
            messages.append({"role": "user", "content": feedback(checked.errors)})
        result.policy_yaml, result.cases_yaml, result.summary = checked.policy, checked.cases, checked.summary
        result.errors, result.cases, result.rule_ids = checked.errors, checked.results, checked.rule_ids
        result.valid = not checked.errors
        if result.valid:
            failed = _failed_traces(store, tenant)
            result.backtest = _backtest(history, current, folder / DRAFT_FILE, folder, failed)
            _review(result, history, folder / DRAFT_FILE)
    return result


NO_MODEL = (
    f"no LLM configured: set {_llm.ENV}=anthropic:MODEL (with ANTHROPIC_API_KEY) or {_llm.ENV}=openai:MODEL "
    "(with OPENAI_API_KEY; OPENAI_BASE_URL for a compatible server), e.g. "
    f"{_llm.ENV}=anthropic:claude-sonnet-4-5"
)


# -- the checks ------------------------------------------------------------------------------------

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def _json_object(answer: str) -> Any:
    """The answer's JSON object: the whole answer, or (a model that wrapped it in prose or a code
    fence) the text from its first `{` to its last `}`."""
    text = _FENCE.sub("", answer.strip())
    for candidate in (text, text[text.find("{") : text.rfind("}") + 1]):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return None


def _names(items: Sequence[Any]) -> set[str]:
    names: set[str] = set()
    for item in items:
        if isinstance(item, RuleSpec):
            names.add(item.id)
        elif isinstance(item, ListSpec | MacroSpec):
            names.add(item.name)
    return names


def _check(answer: str, current: CurrentPolicy, taken: set[str], folder: Path) -> _Checked:
    """The model's answer through the real loader, compiler and test runner: every problem, worded
    for the model to fix (file names relative, so no local path leaves the machine)."""
    out = _Checked()
    data = _json_object(answer)
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("policy"), str)
        or not isinstance(data.get("tests"), str)
    ):
        out.errors.append(
            'the answer must be ONE JSON object {"policy": "<YAML>", "tests": "<YAML>", "summary": "..."}'
        )
        return out
    out.policy, out.cases = data["policy"].strip() + "\n", data["tests"].strip() + "\n"
    out.summary = clip(data.get("summary") or "", 300)
    draft = folder / DRAFT_FILE
    draft.write_text(out.policy, encoding="utf-8")

    def where(err: PolicyError) -> str:  # file names only: no local path goes to the model
        text = str(err)
        parents = {str(Path(p).parent) for p in current.paths} | {
            str(Path(p).resolve().parent) for p in current.paths
        }
        for place in sorted(parents | {str(folder)}, key=len, reverse=True):
            text = text.replace(place + "/", "")
        return text

    try:
        parsed = yaml.safe_load(out.policy)
    except yaml.YAMLError:
        parsed = None  # the loader below reports it with its line
    extra = sorted(str(k) for k in set(parsed) - set(DRAFT_KEYS)) if isinstance(parsed, dict) else []
    if extra:  # checked before loading: an `include:` must never make the loader read a local file
        out.errors.append(
            f"{DRAFT_FILE}: the draft may only hold {', '.join(DRAFT_KEYS)}; remove {', '.join(extra)} "
            "(tools, limits and includes belong to the policy it is added to)"
        )
        return out
    try:
        load_policy([draft])  # the compiler: CEL names and functions, messages, modify blocks
        source = load_source([str(draft)])
    except PolicyError as err:
        out.errors.append(where(err))
        return out
    rules = [item for item in source.items if isinstance(item, RuleSpec) and item.verdict is not None]
    out.rule_ids = [r.id for r in rules]
    if not rules:
        out.errors.append(f"{DRAFT_FILE}: the draft has no rule: add a '- rule:' item with a verdict")
    reused = sorted(_names(source.items) & taken)
    if reused:
        out.errors.append(
            f"{DRAFT_FILE}: {', '.join(reused)} already exist(s) in the current policy and would replace it: "
            "choose new names"
        )
    if not current.empty and not reused:
        try:
            load_policy([draft, *current.paths], packs=list(current.packs))
        except PolicyError as err:
            out.errors.append(f"with the current policy: {where(err)}")
    out.errors.extend(_check_tests(out, folder, set(out.rule_ids)))
    return out


def _check_tests(out: _Checked, folder: Path, rule_ids: set[str]) -> list[str]:
    test_file = f"{Path(DRAFT_FILE).stem}_test.yaml"
    try:
        cases = yaml.safe_load(out.cases)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        return [f"{test_file}{line}: not valid YAML ({getattr(err, 'problem', None) or 'syntax error'})"]
    if (
        not isinstance(cases, dict)
        or set(cases) != {"cases"}
        or not isinstance(cases["cases"], list)
        or not cases["cases"]
    ):
        return [f"{test_file}: the tests must be a mapping with only a non-empty 'cases:' list"]
    path = folder / test_file
    path.write_text(f"policy: {DRAFT_FILE}\n{out.cases}", encoding="utf-8")
    out.results = run_test_file(path)
    problems = [
        f"{test_file}: case {r.name!r}: {r.status.value}: {r.message}".replace(str(folder) + "/", "")
        for r in out.results
        if r.status is not Status.PASS
    ]
    passed = [r for r in out.results if r.status is Status.PASS]
    if not problems and not any(r.expected != "allow" and set(r.rules) & rule_ids for r in passed):
        problems.append(f"{test_file}: add a case the rule must match (expect its verdict, with 'rule: ID')")
    if not problems and not any(r.expected == "allow" for r in passed):
        problems.append(f"{test_file}: add a case of a nearby call the rule must NOT match (expect: allow)")
    return problems


# -- backtest and review ---------------------------------------------------------------------------


def _failed_traces(store: Store | None, tenant: str | None) -> set[str]:
    if store is None:
        return set()
    from railguard.diagnose.labels import list_labels

    return {lab.trace_id for lab in list_labels(store, tenant=tenant) if lab.label == "failure"}


def _backtest(
    history: StoredHistory, current: CurrentPolicy, draft: Path, folder: Path, failed: set[str]
) -> BacktestReport:
    """The window through the current policy and through current + draft (the draft first, so the
    current policy's header — mode, on_error — stays the root), both in isolated replay engines."""
    baseline_paths = list(current.paths)
    if current.empty:
        empty = folder / "no-policy.yaml"
        empty.write_text("name: no-policy\nrules: []\n", encoding="utf-8")
        baseline_paths = [str(empty)]
    packs = list(current.packs) or None
    with contextlib.ExitStack() as stack:
        before = stack.enter_context(replay_engine(baseline_paths, packs=packs))
        after = stack.enter_context(replay_engine([str(draft), *current.paths], packs=packs))
        return backtest(history, after, current=before, failed_traces=failed)


def _review(result: DraftResult, history: StoredHistory, draft: Path) -> None:
    report = result.backtest
    assert report is not None
    share = result.share_stopped
    if share is not None and share > LARGE_SHARE:
        result.flags.append(
            f"would stop {report.newly_blocked + report.newly_asked} of the window's {report.actions} calls "
            f"({share:.0%}, over {LARGE_SHARE:.0%}): check the condition is not too broad"
        )
    if report.approved_now_blocked:
        result.flags.append(
            f"would block {report.approved_now_blocked} call(s) a person approved (over-blocking)"
        )
    if report.newly_allowed:
        result.flags.append(f"would allow {report.newly_allowed} call(s) the current policy stops")
    if not report.actions:
        result.notes.append("no stored calls in the window: the draft could not be checked on history")
    elif not report.changed:
        result.notes.append(f"would not have changed any of the window's {report.actions} calls")
    seen = {str(e.get("tool")) for e in actions(history)}
    with contextlib.suppress(PolicyError):
        source = load_source([str(draft)])
        lists = {i.name for i in source.items if isinstance(i, ListSpec)}
        named = {t for i in source.items if isinstance(i, RuleSpec) for t in i.tools if t not in lists}
        unseen = sorted(t for t in named if not any(fnmatch.fnmatchcase(s, t) for s in seen))
        if seen and unseen:
            result.notes.append(f"tool(s) never seen in the window: {', '.join(unseen)}")

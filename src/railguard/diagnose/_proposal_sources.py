"""Where proposals come from: stored findings and the decision stream of a window, turned into
drafts (a patch, its evidence calls, its unit tests). Each source says why in plain words.

Evidence is computed from what was recorded (verdicts, human answers, labels, tool outputs), never
from replaying the draft, so that the backtest that follows is a real check of the patch.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from railguard.diagnose._detectors import argument_shape
from railguard.diagnose._proposal_patch import case, find_rule, rule_dict, rule_mode, tool_dict
from railguard.diagnose._stored_runs import HistoryAction, StoredHistory
from railguard.diagnose.findings import Finding
from railguard.model import Effect, Mode, Trust
from railguard.policy import CompiledPolicy
from railguard.store import Store
from railguard.store._schema import decisions, runs

NS = 1_000_000_000
LOOP_REPEATS = 4  # the same call this many times in one run is a loop (as the loop detector counts)
MAX_CASES = 3
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.:/-]{2,}")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMMAND_KEYS = frozenset(("command", "cmd", "script", "sql", "query"))
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class Call:
    """One stored action of the window with what was recorded about it."""

    meta: HistoryAction
    args: Mapping[str, Any]
    context: Mapping[str, Any]
    record: Mapping[str, Any] | None  # its first decision event (None: ingested without a decision)
    outputs: tuple[tuple[str, str], ...] = ()  # (tool, text) of the run's tool results since the user spoke

    @property
    def trace_id(self) -> str | None:
        return self.meta.trace_id or (str((self.record or {}).get("trace_id") or "") or None)

    @property
    def key(self) -> str:
        return self.meta.key or f"{self.meta.run}:{self.meta.tool}:{id(self)}"

    def evidence(self, why: str) -> dict[str, Any]:
        return {
            "decision_id": self.meta.decision_id,
            "trace_id": self.trace_id,
            "run": self.meta.run,
            "agent": self.meta.agent,
            "tool": self.meta.tool,
            "why": why,
        }

    def case(self, name: str, expect: str, rule: str | None = None, **args: Any) -> dict[str, Any]:
        ctx = {k: self.context.get(k) for k in ("agent", "tenant", "env", "workspace")}
        return case(name, self.meta.tool, {**self.args, **args}, ctx, expect, rule)


@dataclass
class Draft:
    kind: str
    subject: str
    source: str  # finding id or "decisions"
    title: str
    rationale: str
    evidence: list[dict[str, Any]]
    evidence_keys: set[str]  # decision ids the backtest should flag (empty: it cannot, see `note`)
    patch: dict[str, Any]
    cases: list[dict[str, Any]]
    note: str = ""
    estimate: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scope:
    store: Store
    tenant: str
    since: float
    until: float
    policy: CompiledPolicy
    history: StoredHistory
    findings: list[Finding]
    failed_traces: set[str]
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.calls:
            self.calls = _calls(self)


def _calls(scope: Scope) -> list[Call]:
    records: dict[str, tuple[int, Mapping[str, Any]]] = {}
    query = select(decisions.c.decision_id, decisions.c.seq, decisions.c.record).where(
        decisions.c.tenant == scope.tenant, decisions.c.ts >= scope.since, decisions.c.ts < scope.until
    )
    with scope.store.read_connection() as conn:
        for decision_id, seq, record in conn.execute(query):
            if decision_id not in records or seq < records[decision_id][0]:
                records[decision_id] = (int(seq), dict(record))
    outputs: dict[str, list[tuple[str, str]]] = defaultdict(list)  # per run, since the user last spoke
    metas = iter(scope.history.actions)
    out = []
    seen: set[str] = set()
    for event in scope.history.events:
        if event.get("type") == "user":
            outputs[event["run"]] = []
        if event.get("type") == "tool_result":
            content = event.get("content")
            text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
            outputs[event["run"]].append((str(event.get("tool") or ""), text))
        if event.get("type") != "action":
            continue
        meta = next(metas)
        if meta.decision_id:
            if meta.decision_id in seen:
                continue  # the same call recorded again (a re-check): it is one call
            seen.add(meta.decision_id)
        found = records.get(meta.decision_id or "")
        out.append(
            Call(meta, dict(event["args"]), dict(event.get("context") or {}), found[1] if found else None,
                 tuple(outputs[event["run"]]))
        )  # fmt: skip
    return out


def slug(text: str) -> str:
    return _SLUG.sub("-", text).strip("-").lower()[:60] or "x"


def _q(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _agent_cond(agent: str) -> str:
    return f"ctx.agent == {_q(agent)}"


def _arg_conditions(calls: Sequence[Call]) -> list[str]:
    """CEL conditions every one of `calls` satisfies: equal values, or the words a command-like
    argument always contains, or the e-mail domain it always names."""
    keys = set.intersection(*(set(c.args) for c in calls)) if calls else set()
    out: list[str] = []
    for key in sorted(keys):
        values = [c.args[key] for c in calls]
        if not _IDENT.match(key) or not all(isinstance(v, str) for v in values):
            continue
        if any("[redacted" in v for v in values):
            continue  # the record masked it: a condition on the mask would never match a live call
        ref = f"args.{key}"
        if key in _COMMAND_KEYS:
            first = _WORD.findall(values[0])
            common = set.intersection(*(set(_WORD.findall(v)) for v in values))
            words = [w for w in dict.fromkeys(first) if w in common][:6]
            out.extend(f"{ref}.contains({_q(w)})" for w in words)
        elif len(set(values)) == 1 and len(values[0]) <= 200:
            out.append(f"{ref} == {_q(values[0])}")
        else:
            domains = {v.rsplit("@", 1)[1].lower() for v in values if "@" in v}
            if len(domains) == 1 and all("@" in v for v in values):
                out.append(f"{ref}.endsWith({_q('@' + domains.pop())})")
    return out


def _nearby_allowed(scope: Scope, evidence: Sequence[Call], *, exclude_rule: str | None = None) -> list[Call]:
    """Allowed calls of the same tool and agent, most alike the evidence first (shared words)."""
    if not evidence:
        return []
    tool, agent = evidence[0].meta.tool, evidence[0].meta.agent
    keys = {c.key for c in evidence}
    words = set(_WORD.findall(json.dumps(evidence[0].args, ensure_ascii=False)))
    seen: set[str] = set()
    found: list[tuple[int, int, Call]] = []
    for c in scope.calls:
        if c.meta.tool != tool or c.meta.agent != agent or c.key in keys or c.meta.recorded != "allow":
            continue
        if exclude_rule is not None and exclude_rule in _hit_rules(c):
            continue
        shape = argument_shape(tool, json.dumps(c.args, sort_keys=True))
        if shape in seen:
            continue
        seen.add(shape)
        found.append(
            (-len(words & set(_WORD.findall(json.dumps(c.args, ensure_ascii=False)))), len(found), c)
        )
    return [c for *_, c in sorted(found)[:MAX_CASES]]


def _hit_rules(call: Call) -> set[str]:
    return {str(h.get("rule")) for h in (call.record or {}).get("hits") or ()} | set(call.meta.rules)


def _distinct(calls: Iterable[Call], n: int = MAX_CASES) -> list[Call]:
    seen, out = set(), []
    for c in calls:
        key = json.dumps(c.args, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(c)
        if len(out) == n:
            break
    return out


# -- sources --------------------------------------------------------------------------------------


def violation_cluster(scope: Scope, finding: Finding) -> Draft | None:
    """An agent keeps making calls a rule asks about: block that shape of call for that agent."""
    rule, verdict, shape, tool = (
        str(finding.detail.get(k) or "") for k in ("rule", "verdict", "shape", "tool")
    )
    if verdict != "ask" or not rule or not tool:
        return None  # refused already: a rule that blocks them would change nothing
    calls = [
        c for c in scope.calls
        if c.meta.tool == tool and c.meta.agent == finding.agent and c.meta.recorded == "ask"
        and rule in c.meta.rules and argument_shape(tool, json.dumps(c.args, sort_keys=True)) == shape
    ]  # fmt: skip
    if not calls:
        return None
    rule_id = f"proposed/{slug(finding.agent)}-{slug(tool)}-{slug(' '.join(_WORD.findall(shape))[:40])}"
    when = " && ".join([_agent_cond(finding.agent), *_arg_conditions(calls)])
    patch = {"rules": [{
        "rule": rule_id,
        "desc": f"{finding.agent} keeps proposing {shape}; {rule} asked {len(calls)} times: block it.",
        "tools": [tool], "when": when, "verdict": "block", "severity": "high",
        "message": f"blocked: {finding.agent} may not call {tool} like this (proposal from repeated asks of {rule})",
        "tags": ["incubating", "proposed"],
    }]}  # fmt: skip
    cases = [
        c.case(f"blocks evidence call {i + 1}", "block", rule_id) for i, c in enumerate(_distinct(calls))
    ]
    cases += [
        c.case(f"still allows nearby call {i + 1}", "allow")
        for i, c in enumerate(_nearby_allowed(scope, calls))
    ]
    return Draft(
        "violation_cluster", f"{finding.agent} {rule} {shape}", finding.id,
        f"Block {shape} for {finding.agent}",
        f"{finding.summary}. People were asked {len(calls)} times about the same shape of call; a rule "
        f"blocks it outright for {finding.agent} (other agents and other calls are unchanged).",
        [c.evidence(f"asked by {rule}") for c in calls], {c.key for c in calls}, patch, cases,
    )  # fmt: skip


def _asked_calls(scope: Scope, finding: Finding) -> tuple[str, str, list[Call]]:
    rule, tool = str(finding.detail.get("rule") or finding.subject), str(finding.detail.get("tool") or "")
    calls = [
        c for c in scope.calls
        if c.meta.agent == finding.agent and c.meta.recorded == "ask" and rule in c.meta.rules
        and (not tool or c.meta.tool == tool)
    ]  # fmt: skip
    return rule, tool, calls


def approval_granted(scope: Scope, finding: Finding) -> Draft | None:
    """People approve every ask of a rule for an agent: an exception so they stop being asked."""
    rule_id, _tool, calls = _asked_calls(scope, finding)
    spec = find_rule(scope.policy, rule_id)
    approved = [c for c in calls if c.meta.human == "approved"]
    if spec is None or not approved:
        return None
    bounds = {}
    for key in sorted(set.intersection(*(set(c.args) for c in approved))):
        values = [c.args[key] for c in approved]
        if _IDENT.match(key) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            bounds[key] = max(values)
    parts = [_agent_cond(finding.agent), *(f"args.{k} <= {_q(v)}" for k, v in bounds.items())]
    exception = {"name": f"approved-for-{slug(finding.agent)}", "when": " && ".join(parts)}
    try:
        restated = rule_dict(
            spec, exceptions=[*[{"name": e.name, "when": e.when} for e in spec.exceptions], exception]
        )
    except Exception:
        return None
    cases = [
        c.case(f"no longer asks: approved call {i + 1}", "allow") for i, c in enumerate(_distinct(approved))
    ]
    if bounds:  # the same call beyond what people approved still asks
        top = max(approved, key=lambda c: tuple(c.args[k] for k in bounds))
        beyond = {k: (v * 2 if v else 1) for k, v in bounds.items()}
        cases.append(
            top.case("still asks beyond what people approved", spec.verdict.value, rule_id, **beyond)
        )
    n_approved = len(approved)
    where = ", ".join(f"{k} up to {v}" for k, v in bounds.items())
    return Draft(
        "approval_always_granted", f"{finding.agent} {rule_id}", finding.id,
        f"Stop asking about {rule_id} for {finding.agent}" + (f" ({where})" if where else ""),
        f"{finding.summary}. An exception to {rule_id} lets {finding.agent}'s calls through"
        + (f" when {where} (the most people approved)" if where else "")
        + f"; {n_approved} approved ask(s) in the window would not have asked.",
        [c.evidence(f"{c.meta.human or 'unanswered'} ask of {rule_id}") for c in calls],
        {c.key for c in calls}, {"rules": [restated]}, cases,
    )  # fmt: skip


def approval_denied(scope: Scope, finding: Finding) -> Draft | None:
    """People deny every ask of a rule for an agent: block those calls instead of asking."""
    rule_id, _tool, calls = _asked_calls(scope, finding)
    spec = find_rule(scope.policy, rule_id)
    if spec is None or not calls:
        return None
    new_id = f"proposed/{slug(rule_id)}-denied-{slug(finding.agent)}"
    when = _agent_cond(finding.agent) + (f" && ({spec.when})" if spec.when else "")
    patch = {"rules": [{
        "rule": new_id, "desc": f"People always denied {rule_id} for {finding.agent}: block instead of asking.",
        **({"tools": list(spec.tools)} if spec.tools else {}), "when": when, "verdict": "block",
        "severity": spec.severity.value, "message": f"blocked: people always denied this ({rule_id})",
        "tags": ["incubating", "proposed"],
    }]}  # fmt: skip
    cases = [c.case(f"blocks denied call {i + 1}", "block", new_id) for i, c in enumerate(_distinct(calls))]
    others = [
        c
        for c in scope.calls
        if c.meta.agent != finding.agent and c.meta.recorded == "ask" and rule_id in c.meta.rules
    ]
    cases += [
        c.case(f"other agents still ask {i + 1}", "ask", rule_id) for i, c in enumerate(_distinct(others, 2))
    ]
    return Draft(
        "approval_always_denied", f"{finding.agent} {rule_id}", finding.id,
        f"Block instead of asking: {rule_id} for {finding.agent}",
        f"{finding.summary}. Asking costs a person's time and the answer is always no: the calls are "
        f"blocked for {finding.agent}; other agents are still asked.",
        [c.evidence(f"{c.meta.human or 'unanswered'} ask of {rule_id}") for c in calls],
        {c.key for c in calls}, patch, cases,
    )  # fmt: skip


def loop(scope: Scope, finding: Finding) -> Draft | None:
    """Runs of an agent repeat the same call: cap that tool's calls per run at what normal runs need."""
    by_run: dict[str, list[Call]] = defaultdict(list)
    for c in scope.calls:
        by_run[c.meta.run].append(c)
    looping: dict[str, Counter[str]] = {}
    for run_id, calls in by_run.items():
        if calls[0].meta.agent != finding.agent:
            continue
        repeats = Counter((c.meta.tool, json.dumps(c.args, sort_keys=True, default=str)) for c in calls)
        tools = Counter(tool for (tool, _), n in repeats.items() if n >= LOOP_REPEATS)
        if tools:
            looping[run_id] = tools
    counts = Counter(t for tools in looping.values() for t in tools)
    if not counts:
        return None
    tool = counts.most_common(1)[0][0]
    runs_of_tool = [r for r, tools in looping.items() if tool in tools]
    # Every call is checked against the cap (also ones another rule asks about): it must let the
    # busiest normal run make all of its calls.
    normal = [
        sum(c.meta.tool == tool for c in calls) for run_id, calls in by_run.items() if run_id not in looping
    ]
    cap = max([n for n in normal if n] or [1])
    evidence: list[Call] = []
    for run_id in runs_of_tool:
        admitted = 0  # calls the cap has counted (it counts only the calls that run)
        for c in by_run[run_id]:
            if c.meta.tool != tool or c.meta.recorded == "block":
                continue
            if admitted >= cap:
                evidence.append(c)
            elif c.meta.recorded in ("allow", "modify"):
                admitted += 1
    if not evidence:
        return None
    name = f"loop-cap/{slug(tool)}"
    patch = {"limits": [{"name": name, "tools": [tool], "key": "run", "window_s": None, "max_count": cap}]}
    plain = next(
        (
            c
            for run_id, calls in by_run.items()
            if run_id not in looping
            for c in calls
            if c.meta.tool == tool
        ),
        None,
    )
    cases = [plain.case("a normal call still runs", "allow")] if plain else []
    return Draft(
        "loop", f"{finding.agent} {tool}", finding.id,
        f"Cap {tool} at {cap} call(s) per run",
        f"{finding.summary}. Runs that do not loop call {tool} at most {cap} time(s); a per-run cap stops "
        f"the {len(evidence)} extra call(s) the looping runs made (it applies to every agent of the policy).",
        [c.evidence(f"call {tool} beyond {cap} in a looping run") for c in evidence],
        {c.key for c in evidence}, patch, cases,
        note="a stateful cap: the unit tests check single calls; the backtest replays whole runs",
    )  # fmt: skip


def budget(scope: Scope, finding: Finding) -> Draft | None:
    """An agent's runs cost (or use tokens) far more than before: a per-run budget above every
    normal run of the tenant and below the new runs."""
    metric = "cost" if finding.kind == "cost_spike" else "tokens"
    onset = float(finding.detail.get("onset") or finding.first_seen)
    query = select(runs.c.trace_id, runs.c.agent, runs.c.start_ns, runs.c.input_tokens, runs.c.output_tokens,
                   runs.c.cost_usd).where(runs.c.tenant == scope.tenant, runs.c.start_ns >= int(scope.since * NS),
                                          runs.c.start_ns < int(scope.until * NS))  # fmt: skip
    with scope.store.read_connection() as conn:
        rows = conn.execute(query).all()

    def total(r: Any) -> float:
        return (
            float(r.cost_usd or 0)
            if metric == "cost"
            else float((r.input_tokens or 0) + (r.output_tokens or 0))
        )

    spiking = [r for r in rows if r.agent == finding.agent and r.start_ns / NS >= onset]
    others = [total(r) for r in rows if not (r.agent == finding.agent and r.start_ns / NS >= onset)]
    if not spiking or not others:
        return None
    limit = max(others) * 1.25
    limit = round(limit, 4) if metric == "cost" else float(int(limit) + 1)
    if limit >= statistics.median(total(r) for r in spiking):
        return None  # no limit stops the new runs without stopping normal ones
    over = [r for r in spiking if total(r) > limit]
    unit = (lambda v: f"${v:.4f}") if metric == "cost" else (lambda v: f"{int(v)} tokens")
    name = f"budget/{slug(finding.agent)}/run-{metric}"
    patch = {"budgets": [{"name": name, "scope": "run", "metric": metric, "limit": limit, "warn_at": 0.8}]}
    calls = _over_budget(scope, metric, limit)
    if calls:
        evidence = [
            c.evidence(f"the run had used {unit(spent)} >= {unit(limit)} before this call")
            for c, spent in calls
        ]
        keys = {c.key for c, _ in calls}
    else:  # no call followed once a run passed the limit in the window: the runs are the evidence
        evidence = [{"trace_id": r.trace_id, "run": r.trace_id, "agent": r.agent, "tool": None, "decision_id": None,
                     "why": f"run used {unit(total(r))} > {unit(limit)}"} for r in over]  # fmt: skip
        keys = set()
    return Draft(
        finding.kind, f"{finding.agent} {metric}", finding.id,
        f"Per-run {metric} budget of {unit(limit)} ({finding.agent})",
        f"{finding.summary}. Every other run of the tenant stayed under {unit(max(others))}; a per-run "
        f"budget of {unit(limit)} stops {len(over)} of {len(spiking)} runs of {finding.agent} since the change "
        f"once they pass it ({len(calls)} call(s) in the window came after that point; it applies to every "
        "agent of the policy).",
        evidence, keys, patch, [],
        note="a stateful budget: the backtest replays each run's model usage (its chat spans' tokens and cost) "
        "before its calls",
        estimate={"runs_over": len(over), "runs_after_change": len(spiking), "limit": limit,
                  "normal_max": max(others)},
    )  # fmt: skip


def _over_budget(scope: Scope, metric: str, limit: float) -> list[tuple[Call, float]]:
    """Calls made once their run's recorded model usage had reached `limit` (a used-up budget
    refuses even a call that costs nothing), and that ran or were asked about: what the budget stops."""
    from railguard.state.budgets import METRICS

    scale = METRICS[metric]  # in the budget's own units, so the comparison is the budget's
    cap = round(limit * scale)
    spent: Counter[str] = Counter()
    by_meta = {id(c.meta): c for c in scope.calls}
    metas = iter(scope.history.actions)
    out: list[tuple[Call, float]] = []
    for event in scope.history.events:
        if event.get("type") == "usage":
            spent[event["run"]] += round(float(event.get(metric) or 0) * scale)
        elif event.get("type") == "action":
            meta = next(metas)
            call = by_meta.get(id(meta))
            if call is not None and meta.recorded != "block" and spent[event["run"]] >= cap:
                out.append((call, spent[event["run"]] / scale))
    return out


def _entity_keys(value: Any) -> set[str]:
    """What provenance compares: the digests of the typed entities (e-mails, hosts, IBANs...) in `value`."""
    from railguard.state._provenance_entities import entity_key, extract_entities, text_leaves

    return {entity_key(e.kind, e.value) for _, text in text_leaves(value) for e in extract_entities(text)}


@dataclass
class _RunValues:
    """Per run, as provenance sees it: values the user or system named, values each tool's clean output
    brought in, and whether an output with an injected instruction came since the user spoke."""

    vouched: set[str] = field(default_factory=set)
    brought: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    tainted_turn: bool = False


def injection(scope: Scope) -> list[Draft]:
    """A tool not declared untrusted whose output carried injected instructions: declare its output
    untrusted. Provenance then checks every value that output brings in, not only those of outputs its
    scanner flags. The evidence: acting calls that ran with a value (an address, a host, an account)
    which only that tool's clean outputs had brought into the run — what the declaration changes.
    Calls after a flagged output were stopped already (that output is never trusted) and stay so."""
    from railguard.detect.injection import score_injection

    tools = scope.policy.source.tools
    flagged_cache: dict[str, bool] = {}
    relayed: Counter[str] = Counter()  # tool -> its outputs that carried an injected instruction
    runs: dict[str, _RunValues] = defaultdict(_RunValues)
    driven: dict[str, list[Call]] = defaultdict(list)
    by_meta = {id(c.meta): c for c in scope.calls}
    metas = iter(scope.history.actions)
    for event in scope.history.events:
        kind, state = event.get("type"), runs[event["run"]]
        if kind in ("user", "system"):
            state.vouched |= _entity_keys(event.get("content"))
            state.tainted_turn = state.tainted_turn and kind == "system"
        elif kind == "tool_result":
            content, tool = event.get("content"), str(event.get("tool") or "")
            text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
            if text not in flagged_cache:
                flagged_cache[text] = score_injection(text).flagged
            decl = tools.get(tool)
            if flagged_cache[text]:
                state.tainted_turn = True
                if decl is not None and decl.output_trust is not Trust.UNTRUSTED:
                    relayed[tool] += 1
            elif decl is not None and decl.output_trust is not Trust.UNTRUSTED:
                state.brought[tool] |= _entity_keys(content)
        elif kind == "action":
            meta = next(metas)
            call = by_meta.get(id(meta))
            decl = tools.get(meta.tool)
            if call is None or (decl is not None and decl.effect is Effect.READ) or state.tainted_turn:
                continue
            if meta.recorded not in (None, "allow", "modify"):
                continue  # stopped already: a distrusted output cannot change it
            values = _entity_keys(dict(event.get("args") or {})) - state.vouched
            for tool, brought in state.brought.items():
                others = set().union(*(b for t, b in state.brought.items() if t != tool))
                if values & brought - others:
                    driven[tool].append(call)
    out = []
    for source_tool in sorted(driven):
        calls = driven[source_tool]
        if not relayed[source_tool]:
            continue  # no sign the tool relays third-party instructions: its values are its own
        restated = tool_dict(tools.get(source_tool), output_trust="untrusted")
        nearby = [c for c in scope.calls if c.meta.tool == source_tool and c.meta.recorded == "allow"][:1]
        out.append(Draft(
            "injected_instruction", source_tool, "decisions",
            f"Treat {source_tool}'s output as untrusted",
            f"{relayed[source_tool]} output(s) of {source_tool} carried an injected instruction (the scanner "
            f"caught those, and the calls after them were stopped), and {len(calls)} acting call(s) "
            f"({', '.join(sorted({c.meta.tool for c in calls}))}) ran with a value only {source_tool}'s output "
            f"had brought in, which no scanner looked at. Declared untrusted, every value {source_tool} brings "
            "in is checked by provenance, also when no instruction is detected.",
            [c.evidence(f"ran with a value from {source_tool}'s output (which carries injected instructions)")
             for c in calls],
            {c.key for c in calls}, {"tools": {source_tool: restated}},
            [c.case(f"{source_tool} itself still runs", "allow") for c in nearby],
            note="provenance is per run: the unit tests check single calls; the backtest replays whole runs "
            "with their tool outputs",
        ))  # fmt: skip
    return out


def audit_confirmed(scope: Scope) -> list[Draft]:
    """A rule in audit mode whose would-blocks were all in runs people labelled failures: enforce it."""
    out = []
    for item in scope.policy.source.items:
        spec = find_rule(scope.policy, getattr(item, "id", "")) if hasattr(item, "id") else None
        if spec is None or spec.mode is not Mode.AUDIT or scope.policy.mode is not Mode.ENFORCE:
            continue
        would = [
            c for c in scope.calls
            if c.meta.recorded == "allow" and any(
                h.get("rule") == spec.id and h.get("mode") == "audit" and h.get("verdict") in ("block", "ask")
                for h in (c.record or {}).get("hits") or ()
            )
        ]  # fmt: skip
        if len(would) < 2 or not all(c.trace_id in scope.failed_traces for c in would):
            continue
        restated = rule_dict(spec, mode="enforce")
        cases = [
            c.case(f"enforced on confirmed call {i + 1}", spec.verdict.value, spec.id)
            for i, c in enumerate(_distinct(would))
        ]
        cases += [
            c.case(f"still allows nearby call {i + 1}", "allow")
            for i, c in enumerate(_nearby_allowed(scope, would, exclude_rule=spec.id))
        ]
        out.append(Draft(
            "audit_confirmed", spec.id, "decisions", f"Enforce {spec.id} (audit mode, every would-block confirmed)",
            f"In audit mode, {spec.id} would have {spec.verdict.value}ed {len(would)} call(s) in "
            f"{len({c.trace_id for c in would})} run(s), and people labelled every one of those runs a "
            f"failure: promoting it to enforce stops them. Mode now: {rule_mode(scope.policy, spec).value}.",
            [c.evidence(f"would {spec.verdict.value} ({spec.id}, audit); run labelled failure") for c in would],
            {c.key for c in would}, {"rules": [restated]}, cases,
        ))  # fmt: skip
    return out


def drafts(scope: Scope) -> list[Draft]:
    """Every draft of the window: from the open findings of the tenant, then the decision stream."""
    by_kind = {
        "violation_cluster": violation_cluster,
        "approval_always_granted": approval_granted,
        "approval_always_denied": approval_denied,
        "loop": loop,
        "cost_spike": budget,
        "token_bloat": budget,
    }
    out: list[Draft] = []
    for finding in scope.findings:
        make = by_kind.get(finding.kind)
        if make is None or finding.status == "muted":
            continue
        draft = make(scope, finding)
        if draft is not None:
            out.append(draft)
    out.extend(injection(scope))
    out.extend(audit_confirmed(scope))
    return out

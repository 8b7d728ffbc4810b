"""The digest: the morning briefing over a window (default the last 24 hours) — runs, cost and tokens
per agent (with a chart), blocks and asks by rule, approvals decided and waiting, open findings, and
what changed (agent and prompt versions, served models, policy revisions first seen in the window).
Markdown for chat, HTML with inline SVG charts (inline styles only, no scripts) for email.
"""

from __future__ import annotations

import html
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select

from railguard.diagnose import list_findings
from railguard.store import Store
from railguard.store._otel_map import MODEL_OPERATIONS
from railguard.store._schema import decisions, runs, spans

NS = 1_000_000_000
MAX_FINDINGS = 10


@dataclass
class AgentLine:
    tenant: str
    agent: str
    runs: int
    failed: int
    cost_usd: float
    tokens: int


@dataclass
class Digest:
    since: float
    until: float
    agents: list[AgentLine] = field(default_factory=list)
    refusals: list[tuple[str, str, int]] = field(default_factory=list)  # rule, verdict, count
    approvals: dict[str, int] = field(default_factory=dict)  # approved, denied, expired, pending
    findings: list[dict[str, Any]] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    @property
    def total_runs(self) -> int:
        return sum(a.runs for a in self.agents)

    @property
    def total_cost(self) -> float:
        return sum(a.cost_usd for a in self.agents)


def build_digest(
    store: Store, *, since: float, until: float | None = None, tenant: str | None = None
) -> Digest:
    """Collect the digest's numbers (tenant=None: every tenant, for admins)."""
    from railguard.state._tables import approvals

    until = time.time() if until is None else until
    store.migrate()
    d = Digest(since, until)
    lo, hi = int(since * NS), int(until * NS)
    run_scope = [runs.c.start_ns >= lo, runs.c.start_ns < hi, *([runs.c.tenant == tenant] if tenant else [])]
    span_scope = [
        spans.c.start_ns >= lo,
        spans.c.start_ns < hi,
        *([spans.c.tenant == tenant] if tenant else []),
    ]
    with store.read_connection() as conn:
        for row in conn.execute(
            select(
                runs.c.tenant,
                runs.c.agent,
                func.count(),
                func.sum(case((runs.c.errors > 0, 1), else_=0)),
                func.sum(runs.c.cost_usd),
                func.sum(runs.c.input_tokens + runs.c.output_tokens),
            )
            .where(*run_scope)
            .group_by(runs.c.tenant, runs.c.agent)
        ):
            tenant_, agent, n, failed, cost, tokens = row
            d.agents.append(
                AgentLine(
                    tenant_ or "",
                    agent or "(no agent)",
                    n,
                    int(failed or 0),
                    float(cost or 0),
                    int(tokens or 0),
                )
            )
        d.agents.sort(key=lambda a: -a.cost_usd)
        counts: Counter[tuple[str, str]] = Counter()
        for rules, verdict, n in conn.execute(
            select(spans.c.rules, spans.c.verdict, func.count())
            .where(*span_scope, spans.c.verdict.in_(("block", "ask")))
            .group_by(spans.c.rules, spans.c.verdict)
        ):
            rule = next((r for r in (rules or "").split(",") if r), "(no rule)")
            counts[(rule, verdict)] += n
        d.refusals = sorted(((r, v, n) for (r, v), n in counts.items()), key=lambda x: -x[2])
        scope = [approvals.c.tenant == tenant] if tenant else []
        for status, n in conn.execute(
            select(approvals.c.status, func.count())
            .where(*scope, approvals.c.decided_at >= since, approvals.c.decided_at < until)
            .group_by(approvals.c.status)
        ):
            d.approvals[status] = n
        d.approvals["pending"] = (
            conn.execute(
                select(func.count()).select_from(approvals).where(*scope, approvals.c.status == "pending")
            ).scalar()
            or 0
        )
        d.changes = _changes(conn, since, until, tenant)
    found = list_findings(store, tenant=tenant, status="open", limit=200)
    d.findings = [f.to_json() for f in found[:MAX_FINDINGS]]
    return d


def _changes(conn: Any, since: float, until: float, tenant: str | None) -> list[str]:
    """Agent and prompt versions, served models and policy revisions first seen inside the window."""
    lo, hi = int(since * NS), int(until * NS)
    out: list[str] = []
    t_runs = [runs.c.tenant == tenant] if tenant else []
    for column, what in ((runs.c.agent_version, "version"), (runs.c.prompt_version, "prompt version")):
        for agent, version, first in conn.execute(
            select(runs.c.agent, column, func.min(runs.c.start_ns))
            .where(*t_runs, column.is_not(None))
            .group_by(runs.c.agent, column)
            .having(func.min(runs.c.start_ns) >= lo)
        ):
            if first < hi:
                out.append(f"agent {agent}: {what} {version} first seen {_when(first / NS)}")
    t_spans = [spans.c.tenant == tenant] if tenant else []
    for agent, model, first in conn.execute(
        select(spans.c.agent, spans.c.response_model, func.min(spans.c.start_ns))
        .where(
            *t_spans,
            spans.c.response_model.is_not(None),
            spans.c.operation.in_(sorted(MODEL_OPERATIONS)),
            spans.c.start_ns < hi,
        )
        .group_by(spans.c.agent, spans.c.response_model)
        .having(func.min(spans.c.start_ns) >= lo)
    ):
        out.append(f"agent {agent}: now served by {model} (first {_when(first / NS)})")
    t_dec = [decisions.c.tenant == tenant] if tenant else []
    for revision, first in conn.execute(
        select(decisions.c.policy_revision, func.min(decisions.c.ts))
        .where(*t_dec, decisions.c.policy_revision.is_not(None), decisions.c.ts < until)
        .group_by(decisions.c.policy_revision)
        .having(func.min(decisions.c.ts) >= since)
    ):
        out.append(f"policy revision {revision} first used {_when(first)}")
    return out


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


# -- rendering --------------------------------------------------------------------------------------


def render_markdown(d: Digest) -> str:
    lines = [
        f"# Railguard digest, {_when(d.since)} to {_when(d.until)}",
        "",
        f"{d.total_runs} runs, ${d.total_cost:.2f}",
        "",
        "## Agents",
        "",
        "| agent | tenant | runs | failed | cost | tokens |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {a.agent} | {a.tenant} | {a.runs} | {a.failed} | ${a.cost_usd:.2f} | {a.tokens:,} |"
        for a in d.agents
    ]
    lines += ["", "```", *_text_bars([(a.agent, a.cost_usd) for a in d.agents], "$"), "```"]
    lines += ["", "## Blocks and asks by rule", ""]
    lines += [f"- {rule}: {n} {verdict}" for rule, verdict, n in d.refusals] or ["- none"]
    lines += [
        "",
        "## Approvals",
        "",
        ", ".join(f"{k}: {v}" for k, v in sorted(d.approvals.items())) or "none",
    ]
    lines += ["", "## Open findings", ""]
    lines += [f"- **{f['severity']}** {f['kind']}: {f['summary']} (`{f['id']}`)" for f in d.findings] or [
        "- none"
    ]
    lines += ["", "## What changed", ""]
    lines += [f"- {c}" for c in d.changes] or ["- nothing new"]
    return "\n".join(lines) + "\n"


def _text_bars(values: list[tuple[str, float]], unit: str, width: int = 30) -> list[str]:
    top = max((v for _, v in values), default=0.0)
    name_w = max((len(n) for n, _ in values), default=0)
    return [
        f"{n:<{name_w}} {'#' * (round(v / top * width) if top else 0):<{width}} {unit}{v:.2f}"
        for n, v in values
    ]


def svg_bars(values: list[tuple[str, float]], *, unit: str = "", width: int = 520, bar_h: int = 18) -> str:
    """A horizontal bar chart as inline SVG (labels escaped; sizes only, no scripts or external refs)."""
    top = max((v for _, v in values), default=0.0) or 1.0
    label_w, gap = 140, 6
    height = max(1, len(values)) * (bar_h + gap) + gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'style="font-family:Arial,sans-serif;font-size:12px">'
    ]
    for i, (name, value) in enumerate(values):
        y = gap + i * (bar_h + gap)
        length = max(1.0, (width - label_w - 90) * value / top)
        parts.append(f'<text x="0" y="{y + bar_h - 5}" fill="#333">{html.escape(name[:22])}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" fill="#3b6fb6" rx="2"/>'
        )
        parts.append(
            f'<text x="{label_w + length + 6:.1f}" y="{y + bar_h - 5}" fill="#333">{unit}{value:,.2f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(d: Digest) -> str:
    e = html.escape
    cell = 'style="padding:4px 8px;border-bottom:1px solid #ddd;text-align:left"'
    rows = "".join(
        f"<tr><td {cell}>{e(a.agent)}</td><td {cell}>{e(a.tenant)}</td><td {cell}>{a.runs}</td><td {cell}>{a.failed}</td>"
        f"<td {cell}>${a.cost_usd:.2f}</td><td {cell}>{a.tokens:,}</td></tr>"
        for a in d.agents
    )
    refusals = (
        "".join(f"<li>{e(rule)}: {n} {e(verdict)}</li>" for rule, verdict, n in d.refusals) or "<li>none</li>"
    )
    findings = (
        "".join(
            f"<li><b>{e(f['severity'])}</b> {e(f['kind'])}: {e(f['summary'])} <code>{e(f['id'])}</code></li>"
            for f in d.findings
        )
        or "<li>none</li>"
    )
    changes = "".join(f"<li>{e(c)}</li>" for c in d.changes) or "<li>nothing new</li>"
    approvals = e(", ".join(f"{k}: {v}" for k, v in sorted(d.approvals.items())) or "none")
    head = "".join(f"<th {cell}>{h}</th>" for h in ("agent", "tenant", "runs", "failed", "cost", "tokens"))
    return (
        '<!doctype html><html><body style="font-family:Arial,sans-serif;color:#222;max-width:640px">'
        f'<h1 style="font-size:20px">Railguard digest</h1><p>{e(_when(d.since))} to {e(_when(d.until))}: '
        f"<b>{d.total_runs}</b> runs, <b>${d.total_cost:.2f}</b></p>"
        f'<h2 style="font-size:16px">Cost per agent</h2>{svg_bars([(a.agent, a.cost_usd) for a in d.agents], unit="$")}'
        f'<h2 style="font-size:16px">Runs per agent</h2>{svg_bars([(a.agent, float(a.runs)) for a in d.agents])}'
        f'<table style="border-collapse:collapse"><tr>{head}</tr>{rows}</table>'
        f'<h2 style="font-size:16px">Blocks and asks by rule</h2><ul>{refusals}</ul>'
        f'<h2 style="font-size:16px">Approvals</h2><p>{approvals}</p>'
        f'<h2 style="font-size:16px">Open findings</h2><ul>{findings}</ul>'
        f'<h2 style="font-size:16px">What changed</h2><ul>{changes}</ul>'
        "</body></html>"
    )

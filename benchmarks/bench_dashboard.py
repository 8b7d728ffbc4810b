"""Dashboard benchmark: page render times at 1M stored spans, SQLite and PostgreSQL.

The store is seeded with `--spans` spans (20-span runs and one 1,000-span run; 5 tenants, 20 agents,
one decision event per tool call), spread over `--days` days ending now, so the overview's last 24
hours hold 1/days of them. Then `railguard serve` runs as a subprocess on it, a viewer of one tenant
logs in through the login form's key link (a real session cookie), and each page is requested
`--repeat` times in a row: overview, runs (first page, an agent's first page, an agent's page 20 by
cursor), decisions (first page, blocks only), the 1,000-span run's replay; and the overview of a
global admin (every tenant). Client wall time per request (loopback HTTP included) and the server
process's CPU time per request (on PostgreSQL the database server's work is not in it).

    .venv/bin/python -m benchmarks.bench_dashboard                          # 1M spans, both backends
    .venv/bin/python -m benchmarks.bench_dashboard --spans 100000 --backend sqlite   # quick

Seeding writes rows straight into the real schema (executemany on SQLite, COPY on PostgreSQL): the
write path's 2-5k spans/s would take minutes per backend. Before seeding, a few seeded runs are
written through `Store.write_spans`/`write_decisions` too and must produce the same run and decision
rows, so the shortcut stores what ingest would. The SQLite file is cached under
/tmp/railguard-bench-dashboard (reused for `--reuse-hours`; `--fresh` re-seeds); each PostgreSQL run
seeds a fresh schema and drops it. Writes benchmarks/results/dashboard.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select

from benchmarks._procs import tree_cpu_s
from benchmarks.bench_server import _free_port
from benchmarks.bench_store import pg_schema
from railguard.store import KeyRing, SpanRow, Store, open_store
from railguard.store._ingest import _decision_params, _empty_run, _fold
from railguard.store._migrations import schema_version
from railguard.store._schema import decisions, runs, spans

RESULTS = Path(__file__).parent / "results" / "dashboard.md"
PG_SERVER = os.environ.get("RAILGUARD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
CACHE = Path("/tmp/railguard-bench-dashboard")
SEED_VERSION = 2  # bump when the seeded data changes shape: cached files of older versions are ignored
SPANS_PER_RUN = 20
BIG_RUN_SPANS = 1000
TENANTS = [f"tenant-{i}" for i in range(5)]
AGENTS = [f"agent-{i:02d}" for i in range(20)]  # agent i belongs to tenant i % 5
TOOLS = ["search", "read_file", "write_file", "http_get", "send_email", "query_db", "bash"]
RULES = ["no-rm-rf", "secrets-out", "pii-email", "egress-allowlist", "payment-limit", "sql-drop"]
FILTER_AGENT = "agent-06"  # of tenant-1: the viewer's tenant, who owns the 1,000-span run
DEEP_PAGE = 20
NS = 1_000_000_000
_SPAN_FIELDS = tuple(f.name for f in fields(SpanRow))


# -- the synthetic history -------------------------------------------------------------------------


def _run(
    rng: random.Random, n: int, n_spans: int, start_ns: int
) -> tuple[list[SpanRow], list[dict[str, Any]]]:
    """One run: an agent root, then alternating model and tool calls; a decision per tool call."""
    trace_id = f"{rng.getrandbits(128):032x}"
    agent = AGENTS[n % len(AGENTS)]
    tenant = TENANTS[AGENTS.index(agent) % len(TENANTS)]
    session = f"s-{n // 4:07d}"
    audit = tenant == "tenant-4"  # one tenant runs its policy in audit mode: would-blocks
    root = f"{rng.getrandbits(64):016x}"
    step_ns = max(1, 30 * NS // n_spans)
    rows = [
        SpanRow(trace_id, root, None, f"invoke_agent {agent}", "internal", start_ns, start_ns + n_spans * step_ns,
                "ok", tenant=tenant, session=session, agent=agent, agent_version="1.0", service="bench",
                operation="invoke_agent", attributes={"railguard.run": trace_id}, resource={"service.name": "bench"})
    ]  # fmt: skip
    records: list[dict[str, Any]] = []
    for j in range(1, n_spans):
        at = start_ns + j * step_ns
        span_id = f"{rng.getrandbits(64):016x}"
        common: dict[str, Any] = {"tenant": tenant, "session": session, "agent": agent, "agent_version": "1.0",
                                  "service": "bench", "resource": {"service.name": "bench"}}  # fmt: skip
        if j % 2:
            input_tokens, output_tokens = 800 + 40 * j + rng.randrange(200), 60 + rng.randrange(120)
            rows.append(SpanRow(
                trace_id, span_id, root, "chat gpt-4o-mini", "client", at, at + step_ns // 2, "ok",
                operation="chat", provider="openai", request_model="gpt-4o-mini",
                response_model="gpt-4o-mini-2024-07-18", input_tokens=input_tokens, output_tokens=output_tokens,
                cost_usd=round(input_tokens * 0.15e-6 + output_tokens * 0.6e-6, 8), price_version="2026-11",
                attributes={"gen_ai.usage.input_tokens": input_tokens, "gen_ai.usage.output_tokens": output_tokens},
                **common,
            ))  # fmt: skip
            continue
        tool = TOOLS[rng.randrange(len(TOOLS))]
        roll = rng.random()
        would = "block" if roll < 0.05 else "ask" if roll < 0.08 else "allow"
        verdict = "allow" if audit else would
        fired = [RULES[rng.randrange(len(RULES))]] if would != "allow" else []
        failed = rng.random() < 0.02
        call_id = f"call_{span_id}"
        decision_id = f"{rng.getrandbits(96):024x}"
        args = {"query": f"order {rng.randrange(10**6)} status", "limit": 10}
        rows.append(SpanRow(
            trace_id, span_id, root, f"execute_tool {tool}", "internal", at, at + step_ns // 3,
            "error" if failed else "ok", status_message="tool failed: timeout" if failed else None,
            operation="execute_tool", tool_name=tool, tool_call_id=call_id, verdict=verdict,
            decision_id=decision_id, rules=",".join(fired) or None, error_type="TimeoutError" if failed else None,
            attributes={"gen_ai.tool.call.arguments": json.dumps(args), "gen_ai.tool.call.result": "3 rows"},
            **common,
        ))  # fmt: skip
        records.append({
            "v": 1, "decision_id": decision_id, "event_id": f"{rng.getrandbits(128):032x}", "trace_id": trace_id,
            "span_id": span_id, "timestamp": at / NS, "tool": tool, "call_id": call_id, "verdict": verdict,
            "would_verdict": would, "mode": "audit" if audit else "enforce",
            "severity": "high" if would == "block" else "medium" if would == "ask" else "info",
            "reason": f"rule {fired[0]} matched" if fired else "", "rules": fired, "hits": [],
            "policy_revision": "rev-3", "latency_us": 42.0, "args": args, "error": None, "approval_id": None,
            "context": {"tenant": tenant, "session": session, "agent": agent, "run": trace_id}, "masked": [],
            "action_args": None,
        })  # fmt: skip
    return rows, records


def history(
    total_spans: int, days: float, end_s: float
) -> Iterator[tuple[list[SpanRow], list[dict[str, Any]]]]:
    """Runs in start order over [end - days, end); the 1,000-span run is one of the last hour's."""
    rng = random.Random(13)
    n_runs = max(1, (total_spans - BIG_RUN_SPANS) // SPANS_PER_RUN)
    begin_ns = int((end_s - days * 86_400) * NS)
    gap_ns = int(days * 86_400 * NS) // (n_runs + 1)
    big_at = max(0, n_runs - 1 - int(3600 * NS // gap_ns))
    big_at -= (big_at - AGENTS.index(FILTER_AGENT)) % len(AGENTS)  # a run of the viewer's tenant
    for n in range(n_runs + 1):
        size = BIG_RUN_SPANS if n == big_at else SPANS_PER_RUN
        yield _run(rng, n, size, begin_ns + n * gap_ns - 60 * NS)


def span_params(row: SpanRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _SPAN_FIELDS}  # dataclasses.asdict deep-copies: 5x slower


def run_row(rows: list[SpanRow]) -> dict[str, Any]:
    """The run's aggregate row, folded by the same function ingest folds spans with."""
    params = [span_params(r) for r in rows]
    run = _empty_run(params[0])
    for p in params:
        _fold(run, p)
    return run


# -- seeding ----------------------------------------------------------------------------------------


def check_against_write_path() -> None:
    """The seeded rows of a few runs equal what `Store.write_spans`/`write_decisions` store."""
    sample = [r for _, r in zip(range(3), history(10_000, 1, time.time()), strict=False)]
    with open_store("sqlite://") as store:
        for rows, records in sample:
            store.write_spans(rows)
            store.write_decisions(records)
        with store.read_connection() as conn:
            for rows, records in sample:
                stored_run = (
                    conn.execute(select(runs).where(runs.c.trace_id == rows[0].trace_id)).one()._asdict()
                )
                assert stored_run == run_row(rows), (stored_run, run_row(rows))
                stored = conn.execute(
                    select(decisions).where(decisions.c.trace_id == rows[0].trace_id).order_by(decisions.c.ts)
                ).all()
                seeded = [{**_decision_params(r), "seq": 1} for r in records]
                assert [dict(row._mapping) for row in stored] == seeded
        for rows, _ in sample:  # outside the read: an in-memory store has one connection
            stored_spans = store.get_trace(rows[0].trace_id, tenant=rows[0].tenant)
            assert stored_spans == sorted(rows, key=lambda s: (s.start_ns, s.span_id))


def _flush_sqlite(store: Store, span_rows: list[dict[str, Any]], run_rows: list[dict[str, Any]],
                  decision_rows: list[dict[str, Any]]) -> None:  # fmt: skip
    with store.write_transaction() as conn:
        # Random trace and event ids land all over three B-trees: keep them in memory while seeding.
        conn.exec_driver_sql("PRAGMA cache_size = -1000000")
        conn.execute(insert(spans), span_rows)
        conn.execute(insert(runs), run_rows)
        if decision_rows:
            conn.execute(insert(decisions), decision_rows)


def _flush_pg(store: Store, span_rows: list[dict[str, Any]], run_rows: list[dict[str, Any]],
              decision_rows: list[dict[str, Any]]) -> None:  # fmt: skip
    json_cols = {"attributes", "events", "resource", "record"}
    with store.write_transaction() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            for table, rows in ((spans, span_rows), (runs, run_rows), (decisions, decision_rows)):
                if not rows:
                    continue
                names = [c.name for c in table.columns]
                with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([json.dumps(row[n]) if n in json_cols else row[n] for n in names])


def seed(store: Store, total_spans: int, days: float, end_s: float) -> dict[str, Any]:
    flush = _flush_pg if store.dialect == "postgresql" else _flush_sqlite
    counts = {"spans": 0, "runs": 0, "decisions": 0}
    big: dict[str, Any] = {}
    span_rows: list[dict[str, Any]] = []
    run_rows: list[dict[str, Any]] = []
    decision_rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for rows, records in history(total_spans, days, end_s):
        span_rows += (span_params(r) for r in rows)
        run_rows.append(run_row(rows))
        decision_rows += ({**_decision_params(r), "seq": 1} for r in records)
        if len(rows) == BIG_RUN_SPANS:
            big = {"trace_id": rows[0].trace_id, "tenant": rows[0].tenant}
        if len(span_rows) >= 50_000:
            flush(store, span_rows, run_rows, decision_rows)
            counts["spans"] += len(span_rows)
            counts["runs"] += len(run_rows)
            counts["decisions"] += len(decision_rows)
            span_rows, run_rows, decision_rows = [], [], []
            print(f"  {counts['spans']:,} spans", file=sys.stderr)
    if span_rows:
        flush(store, span_rows, run_rows, decision_rows)
    counts["spans"] += len(span_rows)
    counts["runs"] += len(run_rows)
    counts["decisions"] += len(decision_rows)
    if store.dialect == "postgresql":  # what autovacuum (off on the benchmark's server) would have done
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    # SQLite: no ANALYZE, as in use (Railguard never runs it): its plans must hold without statistics.
    return {**counts, "seconds": time.perf_counter() - t0, "big": big, "seeded_at": end_s}


def sqlite_store(spans_n: int, days: float, fresh: bool, reuse_hours: float) -> tuple[str, dict[str, Any]]:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"v{SEED_VERSION}-{spans_n}-{days:g}d.db"
    meta_path = path.with_suffix(".json")
    if not fresh and path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if time.time() - meta["seeded_at"] < reuse_hours * 3600:
            print(f"SQLite: reusing {path} (seeded {(time.time() - meta['seeded_at']) / 60:.0f} min ago)",
                  file=sys.stderr)  # fmt: skip
            return f"sqlite:///{path}", {**meta, "reused": True}
    for stale in CACHE.glob(f"{path.stem}*"):
        stale.unlink()
    print(f"SQLite: seeding {spans_n:,} spans into {path}", file=sys.stderr)
    url = f"sqlite:///{path}"
    with open_store(url) as store:
        meta = seed(store, spans_n, days, time.time())
    meta_path.write_text(json.dumps(meta))
    return url, meta


# -- measuring ---------------------------------------------------------------------------------------


def log_in(url: str, key: str) -> dict[str, str]:
    """The session cookie the login link sets (sent by hand: it is `Secure` and this is plain http)."""
    response = httpx.get(f"{url}/login", params={"key": key}, follow_redirects=False, timeout=60)
    assert response.status_code == 303, response.text[:300]
    match = re.search(r"railguard_session=([^;]+)", response.headers.get("set-cookie", ""))
    assert match, response.headers
    return {"Cookie": f"railguard_session={match.group(1)}"}


def measure(client: httpx.Client, path: str, pid: int, repeat: int, expect: str) -> dict[str, Any]:
    for _ in range(2):  # warm: templates compiled, pools filled
        client.get(path)
    samples = []
    cpu0 = tree_cpu_s(pid)
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        assert expect in response.text, (path, expect)
    cpu_ms = (tree_cpu_s(pid) - cpu0) * 1000 / repeat
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "p95": samples[min(len(samples) - 1, int(len(samples) * 0.95))],
        "cpu_ms": cpu_ms,
        "bytes": len(response.content),
    }


def _cursor_of_page(client: httpx.Client, query: str, page: int) -> tuple[str, int]:
    """The cursor query of page `page` of a runs list (or of its last page, if it has fewer)."""
    cursor, reached = "", 1
    while reached < page:
        html = client.get(f"/runs?{query}{cursor}").text
        found = re.search(r'href="\?[^"]*before=([^"&]+)', html)
        if not found:
            break
        cursor, reached = f"&before={found.group(1)}", reached + 1
    return cursor, reached


def pages(client: httpx.Client, big: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """name -> (path, text the page must contain)."""
    deep, page = _cursor_of_page(client, f"agent={FILTER_AGENT}", DEEP_PAGE)
    replay = f"/runs/{big['trace_id']}"
    # The replay's last jump link to a blocked step (pages in) and a step's detail, fetched on demand.
    jumps = client.get(replay).text.split(" blocked</span>", 1)[1].split("</p>", 1)[0]
    blocked = re.findall(r'<a href="\?at=([^#"]+)#span-', jumps)[-1]
    return {
        "overview": ("/", "Top agents by cost"),
        "runs: first page": ("/runs", FILTER_AGENT),
        "runs: one agent": (f"/runs?agent={FILTER_AGENT}", FILTER_AGENT),
        f"runs: one agent, page {page} by cursor": (f"/runs?agent={FILTER_AGENT}{deep}", FILTER_AGENT),
        "decisions: first page": ("/decisions", "rev-3"),
        "decisions: blocks": ("/decisions?verdict=block", "v-block"),
        "decisions: one rule": ("/decisions?rule=pii-email", "pii-email"),
        f"run replay ({BIG_RUN_SPANS:,} spans)": (replay, f"{BIG_RUN_SPANS} steps"),
        "run replay: a blocked step's page": (
            f"{replay}?at={blocked}",
            f'id="span-{blocked}" class="blocked',
        ),
        "run replay: a step's detail": (f"{replay}/steps/{blocked}?fragment=1", "gen_ai.tool.call.arguments"),
    }


def run_backend(name: str, url: str, meta: dict[str, Any], repeat: int) -> dict[str, Any]:
    big = meta["big"]
    opened_at, t0 = time.time(), time.perf_counter()
    with open_store(url) as store:  # opening applies what is pending (a cached seed of an older schema)
        migrate_s = time.perf_counter() - t0
        with store.read_connection() as conn:
            migrated = [
                f"{c} v{v}"
                for c, v in conn.execute(
                    select(schema_version.c.component, schema_version.c.version).where(
                        schema_version.c.applied_at >= opened_at
                    )
                )
            ]
        ring = KeyRing(store)
        viewer = ring.create(tenant=big["tenant"], role="viewer", name="bench-viewer", actor="bench").key
        admin = ring.create(tenant="*", role="admin", name="bench-admin", actor="bench").key
    port = _free_port()
    command = [sys.executable, "-m", "railguard.cli", "serve", "--port", str(port), "--db", url,
               "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {}
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, headers=log_in(base, viewer), timeout=120) as client:
            for page, (path, expect) in pages(client, big).items():
                results[page] = measure(client, path, process.pid, repeat, expect)
                print(f"  {name} {page}: {results[page]['p50']:.1f} ms p50", file=sys.stderr)
        with httpx.Client(base_url=base, headers=log_in(base, admin), timeout=120) as client:
            results["overview, all tenants (admin)"] = measure(client, "/", process.pid, repeat, "Top agents")
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {"backend": name, "meta": meta, "pages": results, "migrated": migrated, "migrate_s": migrate_s,
            "load": os.getloadavg(), "measured_at": time.time()}  # fmt: skip


def write_markdown(results: list[dict[str, Any]], args: argparse.Namespace, command: str) -> None:
    first = results[0]["meta"]
    lines = [
        "## Dashboard: page render times at 1M stored spans",
        "",
        f"Reproduce: `{command}`",
        "",
        f"{first['spans']:,} spans in {first['runs']:,} runs ({SPANS_PER_RUN}-span runs and one "
        f"{BIG_RUN_SPANS:,}-span run; {len(TENANTS)} tenants, {len(AGENTS)} agents) and {first['decisions']:,} "
        f"decision events (one per tool call), spread over the {args.days:g} days before the run, so the "
        f"overview's 24-hour window holds about {first['spans'] / args.days:,.0f} spans "
        f"({first['spans'] / args.days / len(TENANTS):,.0f} of the viewer's tenant). Seeded straight into the "
        "schema (checked against the write path on sample runs); VACUUM ANALYZE on PostgreSQL only (autovacuum's job, "
        "off on this server), none on SQLite (Railguard never runs it). `railguard serve` (one worker) "
        "as a subprocess; a viewer of one tenant logged in through the dashboard's login link; each page "
        f"requested {args.repeat} times in a row after 2 warm-ups. Wall: client time per request over "
        "loopback HTTP. CPU: the server process's CPU time per request (on PostgreSQL the database "
        "server's own work is not in it). Target: < 300 ms p50 per page. The replay rows: the first "
        f"page of the {BIG_RUN_SPANS:,}-span run (the replay shows 200 steps a page), the page its last "
        "blocked step's jump link lands on, and one step's arguments and output as the page fetches them "
        "when the step is opened.",
        "",
        "| backend | page | wall p50 (ms) | wall p95 (ms) | server CPU / request (ms) | HTML (KB) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        for page, m in r["pages"].items():
            lines.append(
                f"| {r['backend']} | {page} | {m['p50']:.1f} | {m['p95']:.1f} | {m['cpu_ms']:.1f} "
                f"| {m['bytes'] / 1024:.0f} |"
            )
    lines.append("")
    for r in results:
        meta = r["meta"]
        age = (r["measured_at"] - meta["seeded_at"]) / 60
        seeded = (
            f"a cached seed of {age:.0f} min before"
            if meta.get("reused")
            else f"seeded in {meta['seconds']:.0f} s"
        )
        if r["migrated"]:
            seeded += f"; migrations applied to the seeded store ({', '.join(r['migrated'])}) in {r['migrate_s']:.1f} s"
        lines.append(
            f"- {r['backend']}: {seeded}; load average after the pages "
            f"{' / '.join(f'{x:.1f}' for x in r['load'])} (1/5/15 min; other work shared the 2 cores)."
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=1_000_000, help="spans to store")
    parser.add_argument("--days", type=float, default=7, help="days the spans are spread over, ending now")
    parser.add_argument("--repeat", type=int, default=30, help="requests per page")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--fresh", action="store_true", help="re-seed the cached SQLite file")
    parser.add_argument("--reuse-hours", type=float, default=2, help="reuse a cached SQLite seed this young")
    args = parser.parse_args()
    command = ".venv/bin/python -m benchmarks.bench_dashboard " + " ".join(sys.argv[1:])
    check_against_write_path()
    results = []
    if args.backend in ("sqlite", "both"):
        url, meta = sqlite_store(args.spans, args.days, args.fresh, args.reuse_hours)
        results.append(run_backend("SQLite", url, meta, args.repeat))
    if args.backend in ("postgresql", "both"):
        with pg_schema(PG_SERVER) as url:
            print(f"PostgreSQL: seeding {args.spans:,} spans", file=sys.stderr)
            with open_store(url) as store:
                meta = seed(store, args.spans, args.days, time.time())
            results.append(run_backend("PostgreSQL", url, meta, args.repeat))
    write_markdown(results, args, command.strip())


if __name__ == "__main__":
    main()

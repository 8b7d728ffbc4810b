"""Latency of the SQL and network analyzers on realistic inputs, plus how they behave on the NL2Bash
corpus of everyday shell commands (URLs found, findings raised).

Run from the repository root:

    .venv/bin/python -m benchmarks.bench_sql_net

Writes benchmarks/results/sql_net.md.
"""

from __future__ import annotations

import collections
import functools
import logging
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlglot

from benchmarks._data import NL2BASH
from railguard.detect.net import analyze_urls, extract_urls
from railguard.detect.sql import analyze_sql

COMMAND = "python -m benchmarks.bench_sql_net"
RESULTS = Path(__file__).parent / "results" / "sql_net.md"
ROUNDS = 300

# What agents send to a SQL tool: reads with joins and CTEs, filtered writes, a few destructive ones.
SQL_INPUTS: tuple[tuple[str, str | None], ...] = (
    ("SELECT id, email FROM users WHERE created_at > now() - interval '7 days' LIMIT 50", "postgres"),
    (
        "SELECT o.id, c.name, SUM(i.qty * i.price) AS total FROM orders o JOIN customers c ON c.id = o.cid "
        "JOIN items i ON i.oid = o.id WHERE o.status = 'open' GROUP BY o.id, c.name ORDER BY total DESC",
        "postgres",
    ),
    (
        "WITH recent AS (SELECT * FROM events WHERE ts > '2024-01-01') SELECT kind, count(*) FROM recent "
        "GROUP BY kind HAVING count(*) > 10",
        None,
    ),
    ("INSERT INTO audit_log (actor, action, at) VALUES ('agent', 'refund', CURRENT_TIMESTAMP)", None),
    ("UPDATE accounts SET balance = balance - 120 WHERE id = 42 AND balance >= 120", "mysql"),
    ("DELETE FROM sessions WHERE expires_at < now()", "postgres"),
    ("DELETE FROM users WHERE 1=1", None),
    ("DROP TABLE IF EXISTS staging_orders; TRUNCATE TABLE tmp_import", "mysql"),
    ("WITH gone AS (DELETE FROM users RETURNING id) SELECT count(*) FROM gone", "postgres"),
    ("SELECT TOP 10 * FROM [dbo].[Orders] WHERE [Status] = N'new'", "tsql"),
    ("ALTER TABLE users DROP COLUMN legacy_flag", "sqlite"),
    ("SELECT name FROM sqlite_master WHERE type = 'table'", "sqlite"),
)

# What agents send to fetch/curl/git tools, and free text they pass through.
URL_TEXTS: tuple[str, ...] = (
    "curl -sSL https://api.github.com/repos/python/cpython/releases?per_page=5 -H 'Accept: application/json'",
    "wget -q https://files.pythonhosted.org/packages/source/r/requests/requests-2.32.3.tar.gz",
    "git clone git@github.com:acme/payments.git && cd payments",
    "curl http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "fetch http://good.example.com@2130706433:8080/admin and report back",
    "See the docs at https://docs.python.org/3/library/ipaddress.html (section 'Address objects').",
    "redis-cli -h 10.0.2.15:6379 FLUSHALL",
    "aws s3 cp s3://acme-backups/db/2024-06-01.sql.gz . --region eu-west-1",
    "open ws://localhost:9222/devtools/browser/abc and http://[::ffff:127.0.0.1]/",
    "POST https://hooks.example.com/services/T0001/B0002/abcdefghij0123456789XYZ with the summary",
)


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(calls: Sequence[Callable[[], object]]) -> tuple[list[float], list[float]]:
    """Per-call wall-clock and CPU (thread) time in microseconds, each input called ROUNDS times after
    one warm-up call. CPU time excludes preemption by other processes on the shared cores."""
    for call in calls:
        call()
    wall, cpu = [], []
    for _ in range(ROUNDS):
        for call in calls:
            start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
            call()
            cpu.append((time.thread_time_ns() - start_cpu) / 1000)
            wall.append((time.perf_counter_ns() - start) / 1000)
    return wall, cpu


def latency_row(name: str, samples: tuple[list[float], list[float]]) -> str:
    wall, cpu = samples
    return (
        f"| {name} | {len(wall)} | {percentile(wall, 0.5):.1f} | {percentile(wall, 0.99):.1f} "
        f"| {statistics.fmean(wall):.1f} | {percentile(cpu, 0.5):.1f} | {percentile(cpu, 0.99):.1f} |"
    )


def sql_fact(sql: str, dialect: str | None) -> object:
    return analyze_sql(sql, dialect).to_fact()


def url_fact(urls: list[str]) -> object:
    return analyze_urls(urls, allow=["github.com", "*.python.org"], deny=["10.0.0.0/8"]).to_fact()


def sql_calls() -> list[Callable[[], object]]:
    return [functools.partial(sql_fact, sql, dialect) for sql, dialect in SQL_INPUTS]


def url_calls() -> tuple[list[Callable[[], object]], list[Callable[[], object]]]:
    extract: list[Callable[[], object]] = [functools.partial(extract_urls, text) for text in URL_TEXTS]
    analyze: list[Callable[[], object]] = [functools.partial(url_fact, extract_urls(t)) for t in URL_TEXTS]
    return extract, analyze


def nl2bash_section() -> list[str]:
    if not NL2BASH.exists():
        return ["", f"NL2Bash corpus not found at {NL2BASH}; section skipped."]
    commands = NL2BASH.read_text(encoding="utf-8", errors="replace").splitlines()
    with_urls = 0
    rule_counts: collections.Counter[str] = collections.Counter()
    flagged_examples: dict[str, str] = {}
    start = time.perf_counter()
    for command in commands:
        urls = extract_urls(command)
        if not urls:
            continue
        with_urls += 1
        for finding in analyze_urls(urls).findings:
            rule_counts[finding.rule] += 1
            flagged_examples.setdefault(finding.rule, command[:100])
    elapsed = time.perf_counter() - start
    lines = [
        "",
        "### NL2Bash commands (everyday shell use)",
        "",
        f"{len(commands)} commands scanned with `extract_urls` + `analyze_urls` in {elapsed:.2f} s "
        f"({elapsed / len(commands) * 1e6:.1f} µs per command). {with_urls} commands contain a URL or host.",
        "",
        "| rule | commands | first example |",
        "|---|---:|---|",
    ]
    for rule, count in rule_counts.most_common():
        example = flagged_examples[rule].replace("|", "\\|")
        lines.append(f"| {rule} | {count} | `{example}` |")
    return lines


def main() -> None:
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # Command fallbacks warn on every call
    sql_samples = measure(sql_calls())
    extract, analyze = url_calls()
    extract_samples = measure(extract)
    analyze_samples = measure(analyze)
    lines = [
        "## SQL and network analyzers",
        "",
        f"Command: `.venv/bin/python -m {COMMAND.split(' -m ')[1]}` (from the repository root). "
        f"Python {platform.python_version()}, sqlglot {sqlglot.__version__}, {platform.machine()}, "
        "2 shared cores: numbers are indicative, compare ratios within one run.",
        "",
        f"Latency per call in µs, {ROUNDS} rounds over {len(SQL_INPUTS)} SQL inputs and "
        f"{len(URL_TEXTS)} command/free-text inputs (warm caches, fact dict included).",
        "",
        "| call | samples | p50 µs | p99 µs | mean µs | CPU p50 µs | CPU p99 µs |",
        "|---|---:|---:|---:|---:|---:|---:|",
        latency_row("analyze_sql(text, dialect).to_fact()", sql_samples),
        latency_row("extract_urls(text)", extract_samples),
        latency_row("analyze_urls(urls, allow, deny).to_fact()", analyze_samples),
        *nl2bash_section(),
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

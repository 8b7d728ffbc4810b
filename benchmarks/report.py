"""Assemble BENCHMARKS.md from the sections the benchmarks write to benchmarks/results/*.md.

    .venv/bin/python -m benchmarks.report

Each benchmark is run on its own (its section names the command); this only collects the latest
results, in a fixed order, so the file always says which command produced which numbers.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ORDER = [
    "_summary", "engine", "shell", "adversarial", "sql_net", "secrets", "secrets_redteam_before", "injection", "agentdojo",
    "provenance", "trace", "store", "ingest", "ingest_stages", "server", "dashboard", "state", "state_approvals", "integrations",
    "integration_streams", "hook", "startup", "startup_cpu", "check_stream", "mcp_startup", "diagnose", "backtest",
]  # fmt: skip

HEADER = """# Benchmarks

Measured on the project's 2-core development machine, usually while other work was running: absolute
numbers are noisy, ratios measured side by side in the same run are the point. Each section names the
command that reproduces it; `make bench` runs them all and rebuilds this file.
"""


def main() -> None:
    sections = {p.stem: p for p in RESULTS.glob("*.md")}
    ordered = [sections.pop(name) for name in ORDER if name in sections] + sorted(sections.values())
    body = [HEADER] + [p.read_text().strip() + "\n" for p in ordered]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(body))
    print(f"BENCHMARKS.md: {len(ordered)} sections")


if __name__ == "__main__":
    main()

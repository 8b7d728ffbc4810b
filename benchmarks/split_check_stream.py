"""Where a first-sight `railguard check --json` decision spends its CPU, stage by stage.

Runs the command line's own entry over the everyday shell commands (`benchmarks/data/shell_everyday.tsv`,
one `Bash` action each, every one new to the process) after the same warm-up as `bench_check_stream`,
with each stage wrapped by a thread-CPU clock. A stage's time is its own: the stages it calls are
counted in theirs. The wrappers cost a little per call; the shares are what to read.

    .venv/bin/python -m benchmarks.split_check_stream [--pack default]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.bench_check_stream import check_in_process, stream_files
from benchmarks.bench_shell import everyday_rows

_spent: defaultdict[str, float] = defaultdict(float)
_inner: list[float] = []


def _timed(stage: str, fn: Callable[..., Any], *, drain: bool = False) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        _inner.append(0.0)
        try:
            out = fn(*args, **kwargs)
            return list(out) if drain else out  # a generator's work is done where it is read
        finally:
            spent = time.thread_time() - start
            _spent[stage] += spent - _inner.pop()
            if _inner:
                _inner[-1] += spent

    return run


def _instrument() -> None:
    import railguard.cli._check as check
    import railguard.detect.facts as facts
    import railguard.detect.shell as shell
    import railguard.detect.shell._analyze as analyze
    import railguard.policy._evaluate as policy
    from railguard.engine import Engine
    from railguard.model import Decision

    analyze.Walker.walk_script = _timed("shell: parse + walk", analyze.Walker.walk_script)  # type: ignore[method-assign]
    analyze._command_findings = _timed("shell: rules", analyze._command_findings, drain=True)
    analyze._facts = _timed("shell: paths and URLs", analyze._facts)
    shell.analyze_cached = _timed("shell: the rest (readings, views, assembly)", shell.analyze_cached)  # type: ignore[assignment]
    stages = {
        "shell": "fact shell: to_fact",
        "injection": "fact injection",
        "net": "fact net",
        "paths": "fact paths",
    }
    for name, provider in facts.FACTS.items():
        object.__setattr__(provider, "compute", _timed(stages.get(name, f"fact {name}"), provider.compute))
    policy._variables = _timed("policy: facts into CEL values", policy._variables)
    policy._evaluate = _timed("policy: rules (CEL)", policy._evaluate)
    Engine.check_repeatable = _timed("engine: its own path", Engine.check_repeatable)  # type: ignore[method-assign]
    check._action_of = _timed("cli: JSON line -> Action", check._action_of)
    Decision.to_json_line = _timed("cli: decision -> JSON", Decision.to_json_line)  # type: ignore[method-assign]
    check.run_check = _timed("cli: loop, read, write", check.run_check)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pack", default="default")
    opts = parser.parse_args()
    rows = everyday_rows()
    with tempfile.TemporaryDirectory() as tmp:
        one, warm, corpus = stream_files(Path(tmp), rows)
        check_in_process(opts.pack, one)
        check_in_process(opts.pack, warm)
        _instrument()
        start = time.thread_time()
        check_in_process(opts.pack, corpus)
        total = time.thread_time() - start
    n = len(rows)
    print(f"pack {opts.pack}: {n} first-sight decisions, {total / n * 1e6:.0f} µs CPU each (wrapped)")
    for stage, spent in sorted(_spent.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:45s} {spent / n * 1e6:7.1f} µs  {100 * spent / total:5.1f}%")


if __name__ == "__main__":
    main()

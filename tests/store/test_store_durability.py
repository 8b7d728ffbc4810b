"""kill -9 of a writing process loses no acknowledged span: acked means committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from railguard.store import open_store

SPANS_PER_BATCH = 200

_WRITER = textwrap.dedent(
    f"""
    import sys
    from railguard.store import SpanRow, open_store

    store = open_store(sys.argv[1])
    i = 0
    while True:
        trace = f"k{{i:06d}}"
        rows = [
            SpanRow(trace_id=trace, span_id=f"s{{j}}", parent_span_id=None if j == 0 else "s0", name="op",
                    kind="internal", start_ns=1_000 + j, end_ns=2_000 + j, status="ok",
                    tenant="acme", attributes={{"j": j, "pad": "x" * 200}})
            for j in range({SPANS_PER_BATCH})
        ]
        store.write_spans(rows)
        print(trace, flush=True)  # the acknowledgement: write_spans has returned
        i += 1
    """
)

pytestmark = pytest.mark.slow  # each test starts processes


def test_sigkill_mid_write_loses_no_acknowledged_span(store_url: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, store_url], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acked: list[str] = []
    try:
        while len(acked) < 30:
            line = proc.stdout.readline()
            assert line, f"writer exited early with {proc.poll()}"
            acked.append(line.strip())
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # mid-batch: it is always writing the next one
        proc.wait()
    acked += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    assert proc.returncode == -signal.SIGKILL

    with open_store(store_url) as store:
        for trace in acked:
            assert len(store.get_trace(trace, tenant="acme")) == SPANS_PER_BATCH, trace
        runs = {r.trace_id: r for r in store.list_runs(tenant="acme", limit=1000)}
        assert set(acked) <= set(runs)
        assert all(r.span_count == SPANS_PER_BATCH for r in runs.values())  # no half-written batch

"""Redaction is called from many threads at once (agent threads, the tracing redaction thread)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from railguard.detect.redact import find_sensitive

TEXT = "user bob@example.com key AKIAZ3MHK2LQ7NPXV4TD card 4532 0151 1283 0366 " * 100


def test_concurrent_scans_all_succeed_with_the_same_findings() -> None:
    expected = [(f.kind, f.start, f.end) for f in find_sensitive(TEXT)]
    assert {k for k, _, _ in expected} >= {"email", "aws_access_key", "credit_card"}

    def scan(_: int) -> list[tuple[str, int, int]]:
        return [(f.kind, f.start, f.end) for f in find_sensitive(TEXT)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(scan, range(120)))
    assert all(r == expected for r in results)

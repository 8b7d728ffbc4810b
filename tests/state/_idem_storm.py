"""Subprocess workers for the idempotency storm tests: many threads per spawned process call one
key at the same moment; every EXECUTION appends a line to a marker file."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

from _workers import _threads

from railguard.state.idempotency import Idempotency, fencing_token
from railguard.store import open_store


def storm(url: str, key: str, threads: int, marker: str, hold_s: float, lease_s: float) -> list[Any]:
    """`threads` concurrent duplicates of one call that runs `hold_s` — several leases long, so it
    only survives if its lease is renewed while the duplicates hammer the store."""
    with open_store(url) as store:
        idem = Idempotency(store, lease_s=lease_s, wait_s=300)

        def charge() -> dict[str, Any]:
            with open(marker, "a", encoding="utf-8") as out:
                out.write(f"{os.getpid()} {fencing_token()}\n")
            time.sleep(hold_s)
            return {"charge": "ch_1", "token": fencing_token()}

        def call(_: int) -> Any:
            try:
                return idem.run(key, charge)
            except Exception as err:  # reported to the test, which fails on it
                return f"{type(err).__name__}: {err}"

        return _threads(threads, call)


def paused_claimant(url: str, key: str, marker: str, lease_s: float, answer: str) -> None:
    """Claims the key, then stops its whole process (heartbeat included) before running the call,
    as a SIGSTOP or a long pause would. The test resumes it once another caller took over; what the
    call returned is written to `answer` as JSON."""
    with open_store(url) as store:
        idem = Idempotency(store, lease_s=lease_s, wait_s=120)
        idem.before_execute = lambda _key, _token: os.kill(os.getpid(), signal.SIGSTOP)

        def charge() -> dict[str, Any]:
            with open(marker, "a", encoding="utf-8") as out:
                out.write(f"{os.getpid()} {fencing_token()}\n")
            return {"charge": "ch_1", "token": fencing_token()}

        result = idem.run(key, charge)
    with open(answer, "w", encoding="utf-8") as out:
        json.dump(result, out)

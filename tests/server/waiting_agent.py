"""A separate agent process: asks the server before a refund and waits for a human's approval.
Prints "asked" once it is waiting and "refunded <amount>" when the call went through."""

from __future__ import annotations

import sys

import railguard as rg


def main(url: str, key: str) -> int:
    with rg.RemoteEngine(url, key, wait_s=120.0, timeout_s=10.0) as engine:

        @engine.guard
        def refund(amount: int) -> str:
            return f"refunded {amount}"

        print("asked", flush=True)
        with rg.run(agent="support", run_id="run-refund"):
            try:
                print(refund(500), flush=True)
            except rg.GuardError as err:
                print(f"stopped: {err.decision.verdict.value}", flush=True)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

"""A scripted support agent guarded by Railguard: run `python examples/support_agent/agent.py`.

Each tool is a plain function; `@engine.guard` checks every call against policy.yaml before it runs.
"""

from __future__ import annotations

from pathlib import Path

import railguard as rg

engine = rg.Engine.load(Path(__file__).with_name("policy.yaml"))


@engine.guard
def lookup_order(order_id: str) -> dict[str, object]:
    return {"order_id": order_id, "amount": 49.9, "status": "charged twice"}


@engine.guard
def refund(order_id: str, amount: float) -> str:
    return f"refunded {amount:.2f} on {order_id}"


@engine.guard
def send_email(to: str, body: str) -> str:
    return f"sent to {to}: {body}"


def main() -> list[str]:
    log: list[str] = []
    with rg.run(agent="support", tenant="acme", user="ana", roles=["support"]):
        order = lookup_order("ord_123")
        log.append(refund("ord_123", float(str(order["amount"]))))
        try:
            refund("ord_123", 350.0)
        except rg.ApprovalRequired as wait:
            log.append(f"waiting for a human: {wait.decision.reason}")
        try:
            refund("123", 10.0)
        except rg.GuardBlocked as blocked:
            log.append(f"blocked: {blocked.decision.reason}")
        log.append(
            send_email("customer@example.org", "Refunded! Debug key sk_live_51Hx9QmZtR2kLpV8wNc3Yd7Tf")
        )
    return log


if __name__ == "__main__":
    for line in main():
        print(line)

"""`rg.RemoteEngine` and `rg.attach` against the real server, and against servers that are down,
slow, refusing or answering garbage: every failure kind maps to the policy's fail mode."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from api_helpers import Api
from otlp_server import free_port

import railguard as rg
from railguard.remote import RemoteFailure
from railguard.store import KeyRing

STRICT = "name: strict\nversion: 2\nrules:\n  - rule: no-ls\n    tools: [bash]\n    verdict: block\n    message: no\n"
CTX = rg.Context(agent="a", run="r-remote")


def _remote(api: Api, role: str = "agent", **kw: object) -> rg.RemoteEngine:
    return rg.RemoteEngine(api.url, api.key("acme", role), **kw)  # type: ignore[arg-type]


def test_check_and_acheck_give_the_servers_decision(api: Api) -> None:
    with _remote(api) as remote:
        blocked = remote.check("bash", {"command": "rm -rf /"}, context=CTX)
        assert blocked.verdict is rg.Verdict.BLOCK and blocked.rules == ("no-rm",)
        assert blocked.policy_revision.startswith("api-test@1#") and blocked.error is None
        allowed = asyncio.run(remote.acheck(rg.Action("bash", {"command": "ls"}, context=CTX)))
        assert allowed.verdict is rg.Verdict.ALLOW
        assert remote.failures == dict.fromkeys(RemoteFailure, 0)


def test_guard_blocks_asks_and_waits_for_a_human(api: Api) -> None:
    ran: list[str] = []
    with _remote(api) as remote:

        @remote.guard(name="bash")
        def shell(command: str) -> str:
            ran.append(command)
            return "done"

        with rg.run(agent="a", run_id="r-guard"):
            assert shell("ls") == "done"
            with pytest.raises(rg.GuardBlocked):
                shell("rm -rf /")
    assert ran == ["ls"]

    with _remote(api, wait_s=20.0) as remote:

        @remote.guard
        def refund(amount: int) -> str:
            return f"refunded {amount}"

        def approve_when_asked() -> None:
            for _ in range(400):
                pending = api.call("GET", "/v1/approvals?status=pending", role="approver").json()["approvals"]
                if pending:
                    api.call("POST", f"/v1/approvals/{pending[0]['id']}/approve", role="approver")
                    return
                time.sleep(0.05)

        human = threading.Thread(target=approve_when_asked)
        human.start()
        with rg.run(agent="a", run_id="r-refund"):
            assert refund(500) == "refunded 500"  # waited for the approval, then ran
        human.join(30)

    with (
        _remote(api) as remote,
        rg.run(agent="a", run_id="r-refund-2"),
        pytest.raises(rg.ApprovalRequired) as asked,
    ):
        remote.guard(refund)(900)
    assert asked.value.approval_id


def test_a_server_that_is_down_refuses_and_rate_limits_map_to_the_fail_mode(api: Api) -> None:
    down = rg.RemoteEngine(f"http://127.0.0.1:{free_port()}", api.key(), timeout_s=1.0)
    decision = down.check("bash", {"command": "ls"}, context=CTX)
    assert decision.verdict is rg.Verdict.BLOCK and decision.error == "remote/unreachable"
    assert "on_error=block" in decision.reason and down.failures[RemoteFailure.UNREACHABLE] >= 1

    wrong = rg.RemoteEngine(api.url, "rg_wrong", timeout_s=5.0)
    assert wrong.check("bash", {"command": "ls"}, context=CTX).error == "remote/unauthorized"
    viewer = _remote(api, role="viewer")
    assert viewer.check("bash", {"command": "ls"}, context=CTX).error == "remote/unauthorized"

    slow_key = KeyRing(api.server.store).create(tenant="acme", role="agent", actor="t", rate_per_s=0.01).key
    limited = rg.RemoteEngine(api.url, slow_key, killswitch_cache_s=3600)
    limited.check("bash", {"command": "ls"}, context=CTX)
    assert limited.check("bash", {"command": "ls"}, context=CTX).error == "remote/rate_limited"
    for engine in (down, wrong, viewer, limited):
        engine.close()


class _Odd(BaseHTTPRequestHandler):
    delay_s = 0.0
    body = b"not json"

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self._answer()

    def _answer(self) -> None:
        time.sleep(self.delay_s)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def odd_server() -> Iterator[tuple[str, type[_Odd]]]:
    handler = type("Handler", (_Odd,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()


def test_malformed_and_slow_answers_map_to_the_fail_mode(odd_server: tuple[str, type[_Odd]]) -> None:
    url, handler = odd_server
    with rg.RemoteEngine(url, "rg_x", timeout_s=1.0, killswitch_cache_s=3600) as remote:
        malformed = remote.check("bash", {"command": "ls"}, context=CTX)
        assert malformed.verdict is rg.Verdict.BLOCK and malformed.error == "remote/malformed"
        handler.body = b'{"verdict": "perhaps", "reason": "x", "decision_id": "d"}'
        assert remote.check("bash", {"command": "ls"}, context=CTX).error == "remote/malformed"
        handler.delay_s = 3.0  # slower than the client's timeout
        slow = remote.check("bash", {"command": "ls"}, context=CTX)
        assert slow.verdict is rg.Verdict.BLOCK and slow.error == "remote/timeout"
    with rg.RemoteEngine(url, "rg_x", on_error="allow", killswitch_cache_s=3600) as lenient:
        handler.delay_s = 0.0
        assert lenient.check("bash", {"command": "ls"}, context=CTX).verdict is rg.Verdict.ALLOW


def test_kill_switch_state_is_cached_locally(api: Api) -> None:
    api.call("POST", "/v1/killswitch", role="admin", json={"engaged": True, "tool": "bash", "reason": "stop"})
    with _remote(api, killswitch_cache_s=3600) as remote:
        assert remote.refresh()
        cached = remote.check(
            "bash", {"command": "ls"}, context=rg.Context(tenant="acme", agent="a", run="r")
        )
        assert cached.verdict is rg.Verdict.BLOCK and "cached" in cached.reason
        # Another tenant's switches are not in the cache (the server only sends the caller's).
        assert remote.check("other", {}, context=CTX).verdict is rg.Verdict.ALLOW


def test_an_attached_local_engine_runs_the_active_revision(api: Api) -> None:
    local = rg.Engine(packs=["default"])
    attachment = rg.attach(local, api.url, api.key(), interval_s=0.1)
    try:
        assert attachment.rev is None and local.check("bash", {"command": "ls"}).verdict is rg.Verdict.ALLOW
        api.call("POST", "/v1/policies", role="admin", content=STRICT.encode())
        api.call("POST", "/v1/policies/1/activate", role="admin")
        assert attachment.poll() or attachment.rev == 1  # the background poll may have got there first
        decision = local.check("bash", {"command": "ls"})
        assert decision.verdict is rg.Verdict.BLOCK and decision.policy_revision.startswith("r1:strict@2#")
        api.call("POST", "/v1/policies/1/activate?mode=audit", role="admin")
        attachment.poll()
        shadow = local.check("bash", {"command": "ls"})
        assert (shadow.verdict, shadow.would_verdict) == (rg.Verdict.ALLOW, rg.Verdict.BLOCK)
    finally:
        attachment.close()


def test_a_hung_server_costs_one_timeout_not_two() -> None:
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts, never answers
    try:
        with rg.RemoteEngine(f"http://127.0.0.1:{silent.getsockname()[1]}", "rg_x", timeout_s=0.5) as hung:
            decision = hung.check("bash", {"command": "ls"}, context=CTX)
            assert decision.verdict is rg.Verdict.BLOCK and decision.error == "remote/timeout"
            assert hung.failures[RemoteFailure.TIMEOUT] == 1  # the kill-switch read timed out; no second wait
    finally:
        silent.close()

"""The diagnosis API on a real server (SQLite and PostgreSQL): the root cause of a run, findings (run
now, list with filters and pages, read, change status with an audit record), the latest heartbeat;
each in the caller's tenant only, with the roles the API documents."""

from __future__ import annotations

from api_helpers import Api
from diagnose_seed import seed

from railguard.alert.heartbeat import HeartbeatConfig, beat


def test_why_answers_the_blocked_step_stores_it_and_stays_in_its_tenant(api: Api) -> None:
    acme = seed(api.server.store, "acme")
    path = f"/v1/runs/{acme.blocked_run}/why"
    first = api.call("GET", path, role="viewer")
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["cause"] == "blocked" and answer["step"]["span_id"] == acme.blocked_span
    assert answer["confidence"] >= 0.85 and "no-prod-apply" in answer["explanation"]
    assert answer["evidence"][0]["span_id"] == acme.blocked_span and answer["suggestion"]
    assert answer["stored"] is False and "not needed" in answer["llm"]
    again = api.call("GET", path, role="viewer").json()
    assert again["stored"] is True and again["cause"] == "blocked"
    assert api.call("GET", path + "?refresh=true", role="viewer").json()["stored"] is False
    # Another tenant's key cannot see that run exists, stored answer or not.
    assert api.call("GET", path, tenant="globex", role="admin").status_code == 404
    assert api.call("GET", path + "?refresh=true", tenant="globex", role="admin").status_code == 404
    assert api.call("GET", path, tenant="acme", role="viewer", params={"tenant": "globex"}).status_code == 403
    assert api.call("GET", path, key=None).status_code == 401
    assert api.call("GET", "/v1/runs/" + "0" * 32 + "/why", role="viewer").status_code == 404


def test_findings_run_list_read_and_change_status_per_tenant(api: Api) -> None:
    store = api.server.store
    seed(store, "acme")
    seed(store, "globex", agent="crawler")
    assert api.call("POST", "/v1/diagnose", role="approver").status_code == 403
    run = api.call("POST", "/v1/diagnose", role="admin", json={"since_s": 3 * 86_400})
    assert run.status_code == 200, run.text
    found = run.json()["findings"]
    assert [(f["kind"], f["agent"], f["tenant"]) for f in found] == [("loop", "poller", "acme")]
    assert run.json()["changes"] == [{"id": found[0]["id"], "change": "new"}]
    assert api.call("POST", "/v1/diagnose", tenant="globex", role="admin").status_code == 200
    loop_id = found[0]["id"]

    listed = api.call("GET", "/v1/findings", role="viewer").json()
    assert [f["id"] for f in listed["findings"]] == [loop_id] and listed["next"] is None
    item = listed["findings"][0]
    assert item["status"] == "open" and len(item["evidence"]) == 3
    assert all(e["trace_id"] and e["span_id"] for e in item["evidence"])
    for query, expected in (
        ({"kind": "loop", "status": "open", "agent": "poller"}, [loop_id]),
        ({"kind": "cost_spike"}, []),
        ({"agent": "crawler"}, []),  # globex's agent: not visible to acme
        ({"severity": "critical"}, []),
        ({"severity": "medium"}, [loop_id]),
        ({"since": 4_000_000_000}, []),
    ):
        got = api.call("GET", "/v1/findings", role="viewer", params=query)
        assert [f["id"] for f in got.json()["findings"]] == expected, query
    for bad in ({"kind": "nope"}, {"status": "nope"}, {"severity": "nope"}, {"before": "x|y"}):
        assert api.call("GET", "/v1/findings", role="viewer", params=bad).status_code == 400, bad
    globex = api.call("GET", "/v1/findings", tenant="globex", role="viewer").json()["findings"]
    assert [(f["agent"], f["tenant"]) for f in globex] == [("crawler", "globex")]
    # Keyset pages across every tenant (a key of every tenant): two pages of one, then the end.
    first = api.call("GET", "/v1/findings", key=api.server.key, params={"limit": 1}).json()
    second = api.call("GET", "/v1/findings", key=api.server.key, params={"limit": 1, "before": first["next"]})
    ids = [f["id"] for f in first["findings"]] + [f["id"] for f in second.json()["findings"]]
    assert sorted(ids) == sorted([loop_id, globex[0]["id"]])
    third = api.call(
        "GET", "/v1/findings", key=api.server.key, params={"limit": 1, "before": second.json()["next"]}
    )
    assert third.json()["findings"] == [] and third.json()["next"] is None

    one = f"/v1/findings/{loop_id}"
    assert api.call("GET", one, role="viewer").json()["detail"]
    assert api.call("GET", one, tenant="globex", role="admin").status_code == 404
    change = {"status": "acknowledged", "note": "looking into the poller"}
    assert api.call("POST", one + "/status", role="viewer", json=change).status_code == 403
    assert api.call("POST", one + "/status", tenant="globex", role="admin", json=change).status_code == 404
    assert api.call("POST", one + "/status", role="approver", json={"status": "gone"}).status_code == 422
    done = api.call("POST", one + "/status", role="approver", json=change)
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["status_note"]) == ("acknowledged", "looking into the poller")
    assert done.json()["status_by"].startswith("acme-approver")
    assert api.call("GET", "/v1/findings", role="viewer", params={"status": "open"}).json()["findings"] == []
    records = api.call("GET", "/v1/audit", role="viewer", params={"action": "finding.acknowledged"}).json()
    assert [(r["subject"], r["actor"].split(" ")[0]) for r in records["records"]] == [
        (loop_id, "acme-approver")
    ]
    assert api.call("GET", "/v1/audit/verify", role="viewer").json()["ok"] is True
    # globex's finding did not move, and globex sees no record of acme's change.
    assert (
        api.call("GET", f"/v1/findings/{globex[0]['id']}", tenant="globex", role="viewer").json()["status"]
        == "open"
    )
    theirs = api.call(
        "GET", "/v1/audit", tenant="globex", role="viewer", params={"action": "finding.acknowledged"}
    )
    assert theirs.json()["records"] == []


def test_heartbeat_shows_the_tenants_latest_beat_only(api: Api) -> None:
    store = api.server.store
    never = api.call("GET", "/v1/heartbeat", role="viewer").json()
    assert never["status"] == "NEVER" and never["items"] == []
    seed(store, "acme")
    seed(store, "globex", agent="crawler", loops=0)
    for tenant in ("acme", "globex"):
        beat(store, config=HeartbeatConfig(tenant=tenant), name="server")
    acme = api.call("GET", "/v1/heartbeat", role="viewer").json()
    assert acme["status"] == "ATTENTION" and acme["tenant"] == "acme"
    assert any("loop" in i["text"] and "poller" in i["text"] for i in acme["items"])
    globex = api.call("GET", "/v1/heartbeat", tenant="globex", role="viewer").json()
    assert globex["status"] == "HEARTBEAT_OK" and globex["lines"] == ["HEARTBEAT_OK"]
    assert not any("poller" in str(i) for i in globex["items"])
    assert api.call("GET", "/v1/heartbeat", role="viewer", params={"tenant": "globex"}).status_code == 403
    assert api.call("GET", "/v1/heartbeat", key=None).status_code == 401

"""Policy revisions over HTTP and from the CLI, applied by the server's engines; the audit log
over HTTP and `railguard audit verify|list|anchor`."""

from __future__ import annotations

import json
from pathlib import Path

from api_helpers import Api, eventually
from sqlalchemy import update
from typer.testing import CliRunner

from railguard.cli import app as cli
from railguard.store import AuditLog
from railguard.store._control_schema import audit_log

STRICT = "name: strict\nversion: 2\nrules:\n  - rule: no-ls\n    tools: [bash]\n    verdict: block\n    message: no\n"
LS = {"tool": "bash", "args": {"command": "ls"}, "context": {"run": "r"}}


def _upload(api: Api, text: str, **kw: object) -> object:
    return api.call(
        "POST", "/v1/policies", content=text.encode(), headers={"Content-Type": "application/yaml"}, **kw
    )


def test_upload_validates_with_line_numbers_and_refuses_server_files(api: Api) -> None:
    bad = _upload(api, "rules:\n  - rule: x\n    verdict: nope\n", role="admin")
    assert bad.status_code == 400 and ":3:" in bad.json()["detail"] and "fix" in bad.json()["detail"]
    sneaky = _upload(api, "include: [/etc/passwd]\nrules: []\n", role="admin")
    assert sneaky.status_code == 400 and "pack:NAME" in sneaky.json()["detail"]
    assert _upload(api, "{oops", role="admin").status_code == 400


def test_roles_and_tenants_on_policy_routes(api: Api) -> None:
    for role in ("agent", "viewer", "approver"):
        assert _upload(api, STRICT, role=role).status_code == 403
        assert api.call("POST", "/v1/policies/1/activate", role=role).status_code == 403
        assert api.call("POST", "/v1/policies/rollback", role=role).status_code == 403
    assert api.call("GET", "/v1/policies", role="agent").status_code == 403
    assert api.call("GET", "/v1/policies", key=None).status_code == 401
    assert api.call("GET", "/v1/policies", key=api.revoked).status_code == 401
    created = _upload(api, STRICT, role="admin").json()
    assert created["rev"] == 1 and created["tenant"] == "acme" and created["author"].startswith("acme-admin")
    # globex sees none of acme's revisions and cannot activate them
    assert api.call("GET", "/v1/policies", tenant="globex", role="viewer").json()["revisions"] == []
    assert api.call("GET", "/v1/policies/1", tenant="globex", role="viewer").status_code == 404
    assert api.call("POST", "/v1/policies/1/activate", tenant="globex", role="admin").status_code == 404
    assert api.call("GET", "/v1/policies?tenant=globex", role="viewer").status_code == 403
    assert api.call("GET", "/v1/policies/1", role="viewer").json()["content"] == STRICT


def test_activation_applies_to_the_next_decision_audit_mode_and_rollback(api: Api) -> None:
    assert api.evaluate(LS).json()["verdict"] == "allow"
    _upload(api, STRICT, role="admin")
    shadow = api.call("POST", "/v1/policies/1/activate?mode=audit", role="admin")
    assert shadow.status_code == 200 and shadow.json()["active_mode"] == "audit"
    audited = api.evaluate(LS).json()
    assert (audited["verdict"], audited["would_verdict"], audited["mode"]) == ("allow", "block", "audit")
    assert audited["policy_revision"].startswith("r1:strict@2#")
    api.call("POST", "/v1/policies/1/activate", role="admin")
    enforced = api.evaluate(LS).json()
    assert enforced["verdict"] == "block" and enforced["rules"] == ["no-ls"]
    assert api.evaluate(LS, tenant="globex").json()["verdict"] == "allow"  # other tenants unaffected
    assert api.call("POST", "/v1/policies/rollback", role="admin").json()["active_mode"] == "audit"
    assert api.evaluate(LS).json()["verdict"] == "allow"


def test_audit_routes_are_scoped_and_verify(api: Api) -> None:
    _upload(api, STRICT, role="admin")
    records = api.call("GET", "/v1/audit", role="viewer").json()["records"]
    assert {r["tenant"] for r in records} == {"acme"} and "policy.revision" in {r["action"] for r in records}
    assert api.call("GET", "/v1/audit?tenant=globex", role="viewer").status_code == 403
    assert api.call("GET", "/v1/audit", role="agent").status_code == 403
    assert api.call("GET", "/v1/audit", key=None).status_code == 401
    assert api.call("GET", "/v1/audit/verify", role="viewer").json()["ok"] is True
    every = api.call("GET", "/v1/audit", key=api.server.key).json()["records"]
    assert {"acme", "globex"} <= {r["tenant"] for r in every}


def test_policy_cli_push_revisions_activate(api: Api, tmp_path: Path) -> None:
    policy = tmp_path / "strict.yaml"
    policy.write_text(STRICT)
    env = {"RAILGUARD_URL": api.url, "RAILGUARD_KEY": api.key("acme", "admin")}
    runner = CliRunner()
    pushed = runner.invoke(cli, ["policy", "push", str(policy)], env=env)
    assert pushed.exit_code == 0 and "revision r1 of acme" in pushed.output, pushed.output
    listed = runner.invoke(cli, ["policy", "revisions", "--json"], env=env)
    assert json.loads(listed.output.splitlines()[0])["rev"] == 1
    assert runner.invoke(cli, ["policy", "activate", "r1"], env=env).exit_code == 0
    assert eventually(lambda: api.evaluate(LS).json()["verdict"] == "block")
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules:\n  - rule: x\n    verdict: nope\n")
    failed = runner.invoke(cli, ["policy", "push", str(broken)], env=env)
    assert failed.exit_code == 1 and ":3:" in failed.output
    denied = runner.invoke(
        cli, ["policy", "activate", "1"], env={**env, "RAILGUARD_KEY": api.key("acme", "viewer")}
    )
    assert denied.exit_code == 2 and "403" in denied.output


def test_audit_cli_verify_fails_on_an_edited_row_and_an_anchor_catches_a_rewrite(
    api: Api, tmp_path: Path
) -> None:
    store = api.server.store
    db = ["--db", _url(api)]
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify", *db])
    assert ok.exit_code == 0 and "audit chain ok" in ok.output
    anchor = tmp_path / "head.json"
    assert runner.invoke(cli, ["audit", "anchor", "--to", str(anchor), *db]).exit_code == 0
    listed = runner.invoke(cli, ["audit", "list", "--json", *db])
    assert "key.create" in listed.output and "rg_" not in listed.output  # never a key in the log
    with store.write_transaction() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(subject="forged"))
    broken = runner.invoke(cli, ["audit", "verify", *db])
    assert broken.exit_code == 1 and "record 2" in broken.output
    with store.write_transaction() as conn:  # a rewrite of the whole table: an empty chain is valid...
        conn.execute(audit_log.delete())
    assert AuditLog(store).verify().ok
    rewritten = runner.invoke(cli, ["audit", "verify", "--anchor", str(anchor), *db])
    assert (
        rewritten.exit_code == 1 and "anchored record is gone" in rewritten.output
    )  # ...but not the anchored one


def _url(api: Api) -> str:
    return api.server.store_url

"""Keys over HTTP (admin only, per tenant), /docs and /openapi.json behind the API's auth, and the
`railguard keys` commands."""

from __future__ import annotations

from pathlib import Path

from api_helpers import Api
from typer.testing import CliRunner

from railguard.cli import app as cli
from railguard.store import KeyRing, open_store


def test_docs_and_openapi_follow_the_apis_auth(api: Api) -> None:
    for path in ("/openapi.json", "/docs"):
        assert api.call("GET", path, key=None).status_code == 401
        assert api.call("GET", path, key="rg_wrong").status_code == 401
        assert api.call("GET", path, key=api.revoked).status_code == 401
        for role in ("agent", "viewer", "approver", "admin"):
            assert api.call("GET", path, role=role).status_code == 200
    schema = api.call("GET", "/openapi.json").json()
    assert "/v1/guard/evaluate" in schema["paths"] and "/docs" not in schema["paths"]
    page = api.call("GET", "/docs").text
    assert "POST /v1/guard/evaluate" in page and "://" not in page  # nothing loaded from elsewhere


def test_health_needs_no_key(api: Api) -> None:
    assert api.call("GET", "/healthz", key=None).status_code == 200
    assert api.call("GET", "/readyz", key=None).status_code == 200


def test_keys_api_is_admin_only_and_per_tenant(api: Api) -> None:
    for role in ("agent", "viewer", "approver"):
        assert api.call("GET", "/v1/keys", role=role).status_code == 403
        assert api.call("POST", "/v1/keys", role=role, json={"role": "agent"}).status_code == 403
    assert api.call("GET", "/v1/keys", key=None).status_code == 401
    assert api.call("GET", "/v1/keys", key=api.revoked).status_code == 401

    listed = api.call("GET", "/v1/keys", role="admin").json()["keys"]
    assert listed and {k["tenant"] for k in listed} == {"acme"} and all("key" not in k for k in listed)
    assert api.call("GET", "/v1/keys?tenant=globex", role="admin").status_code == 403
    assert (
        api.call("POST", "/v1/keys", role="admin", json={"role": "agent", "tenant": "globex"}).status_code
        == 403
    )
    assert (
        api.call("POST", "/v1/keys", role="admin", json={"role": "admin", "tenant": "*"}).status_code == 403
    )
    bad_role = api.call("POST", "/v1/keys", role="admin", json={"role": "root"})
    assert bad_role.status_code == 400 and "agent" in bad_role.json()["detail"]

    created = api.call("POST", "/v1/keys", role="admin", json={"role": "agent", "name": "bot"})
    assert created.status_code == 201
    new = created.json()
    assert new["tenant"] == "acme" and new["key"].startswith("rg_")
    assert api.evaluate({"tool": "ls"}, key=new["key"]).status_code == 200

    globex_key_id = next(k.id for k in KeyRing(api.server.store).list(tenant="globex"))
    assert api.call("DELETE", f"/v1/keys/{globex_key_id}", role="admin").status_code == 404  # not visible
    assert api.call("DELETE", f"/v1/keys/{new['id']}", role="admin").status_code == 200
    assert api.evaluate({"tool": "ls"}, key=new["key"]).status_code == 401  # at once on this replica


def test_keys_cli_prints_the_key_once_as_the_last_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rg.db'}"
    runner = CliRunner()
    made = runner.invoke(
        cli, ["keys", "create", "--tenant", "acme", "--role", "approver", "--name", "ana", "--db", db]
    )
    assert made.exit_code == 0, made.output
    key = made.output.strip().splitlines()[-1]
    assert key.startswith("rg_")
    with open_store(db) as store:
        found = KeyRing(store).authenticate(key)
    assert found is not None and (found.tenant, found.role, found.name) == ("acme", "approver", "ana")

    listed = runner.invoke(cli, ["keys", "list", "--json", "--db", db])
    assert found.id in listed.output and key not in listed.output
    assert runner.invoke(cli, ["keys", "revoke", found.id, "--db", db]).exit_code == 0
    with open_store(db) as store:
        assert KeyRing(store).authenticate(key) is None
    bad = runner.invoke(cli, ["keys", "create", "--tenant", "acme", "--role", "root", "--db", db])
    assert bad.exit_code == 2 and "use one of" in bad.output

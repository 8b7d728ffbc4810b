"""Keys (stored hashed) and the hash-chained audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text, update

from railguard.errors import ConfigurationError
from railguard.store import AuditLog, KeyRing, PolicyRevisions, Store
from railguard.store._control_schema import api_keys, audit_log


def test_keys_are_stored_as_hashes_and_authenticate_until_revoked(store: Store) -> None:
    ring = KeyRing(store)
    created = ring.create(tenant="acme", role="agent", name="bot", actor="test")
    assert created.key.startswith("rg_") and "rg_***" in repr(created)
    with store.read_connection() as conn:
        stored = json.dumps([list(map(str, row)) for row in conn.execute(select(api_keys))])
    assert created.key not in stored and created.key[3:] not in stored
    found = ring.authenticate(created.key)
    assert found is not None and (found.tenant, found.role, found.name) == ("acme", "agent", "bot")
    assert ring.authenticate(created.key + "x") is None
    assert ring.get(created.info.id, tenant="acme").last_used_at is not None
    with pytest.raises(ConfigurationError):
        ring.get(created.info.id, tenant="globex")  # another tenant cannot even see it
    ring.revoke(created.info.id, tenant="acme", actor="test")
    assert ring.authenticate(created.key) is None


@pytest.mark.parametrize(
    ("tenant", "role"),
    [("acme", "root"), ("*", "agent"), ("", "admin"), ("a b", "admin"), ("x" * 200, "viewer")],
)
def test_bad_keys_are_refused_with_what_to_use(store: Store, tenant: str, role: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        KeyRing(store).create(tenant=tenant, role=role, actor="test")
    assert "use" in str(err.value) or "must" in str(err.value)


def _changes(store: Store) -> AuditLog:
    ring = KeyRing(store)
    first = ring.create(tenant="acme", role="agent", actor="ana")
    ring.create(tenant="globex", role="viewer", actor="bob")
    revisions = PolicyRevisions(store)
    revisions.add(tenant="acme", content="rules: []\n", author="ana", policy_revision="p@1#x", rules=0)
    revisions.activate(tenant="acme", rev=1, actor="ana")
    ring.revoke(first.info.id, tenant="acme", actor="ana")
    return AuditLog(store)


def test_an_untouched_chain_verifies_and_every_change_is_in_it(store: Store) -> None:
    log = _changes(store)
    status = log.verify()
    assert status.ok and status.records == 5 and status.head == log.head()[1]
    actions = [r.action for r in log.list(tenant=None)]
    assert actions == ["key.revoke", "policy.activate", "policy.revision", "key.create", "key.create"]
    assert [r.actor for r in log.list(tenant="globex")] == ["bob"]  # scoped by tenant
    assert log.verify(anchor=log.head()).ok


def test_an_edited_record_breaks_the_chain_at_that_record(store: Store) -> None:
    log = _changes(store)
    with store.write_transaction() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(actor="mallory"))
    status = log.verify()
    assert not status.ok and status.broken_seq == 3 and "edited" in (status.problem or "")


def test_a_deleted_record_breaks_the_chain(store: Store) -> None:
    log = _changes(store)
    with store.write_transaction() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 2))
    status = log.verify()
    assert not status.ok and status.broken_seq == 2 and "missing" in (status.problem or "")


def test_reordered_records_break_the_chain(store: Store) -> None:
    log = _changes(store)
    with store.write_transaction() as conn:  # swap the seq numbers of records 2 and 3
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(seq=-2))
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(seq=2))
        conn.execute(update(audit_log).where(audit_log.c.seq == -2).values(seq=3))
    status = log.verify()
    assert not status.ok and status.broken_seq == 2


def test_a_rewritten_whole_chain_is_caught_by_an_anchor(store: Store) -> None:
    log = _changes(store)
    anchor = log.head()
    with store.write_transaction() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    assert log.verify().ok  # an empty table is a valid (empty) chain...
    status = log.verify(anchor=anchor)
    assert not status.ok and status.broken_seq == anchor[0]  # ...but not the one anchored


def test_revisions_diff_activate_and_roll_back(store: Store) -> None:
    revisions = PolicyRevisions(store)
    one = revisions.add(tenant="acme", content="a: 1\n", author="ana", policy_revision="p#1", rules=1)
    revisions.activate(tenant="acme", rev=one.rev, actor="ana")
    two = revisions.add(tenant="acme", content="a: 2\n", author="ana", policy_revision="p#2", rules=1)
    assert "-a: 1" in two.diff and "+a: 2" in two.diff and two.rev == 2
    revisions.activate(tenant="acme", rev=2, actor="ana", mode="audit")
    assert revisions.active_all()["acme"].mode == "audit"
    back = revisions.rollback(tenant="acme", actor="ana")
    assert back.rev == 1 and back.active_mode == "enforce"
    assert revisions.list(tenant="globex") == []
    with pytest.raises(ConfigurationError):
        revisions.get(tenant="globex", rev=1)

"""Changes a person makes (from the JSON API or the dashboard), each appended to the audit log with
the key's name as the actor: deciding an approval, flipping a kill switch."""

from __future__ import annotations

from railguard.server._auth import Principal
from railguard.state import Approval, ApprovalNotFound, Approvals, KillSwitch, Switch
from railguard.store import AuditLog, Store


class NotVisible(LookupError):
    """Another tenant's approval request: as good as absent (404)."""


def visible_approval(principal: Principal, store: Store, approval_id: str) -> Approval:
    try:
        return Approvals(store).get(approval_id, tenant=_tenant_scope(principal))
    except ApprovalNotFound:
        raise NotVisible(f"no approval request {approval_id[:64]!r}") from None


def _tenant_scope(principal: Principal) -> str | None:
    """The tenant the store must limit this caller to (None: a key of every tenant)."""
    return None if principal.all_tenants else principal.key.tenant


def decide_approval(
    principal: Principal, store: Store, approval_id: str, decision: str, note: str | None = None
) -> Approval:
    """Approve or deny (raises ApprovalNotPending when it was decided already, NotVisible)."""
    found = visible_approval(principal, store, approval_id)
    approvals = Approvals(store)
    act = approvals.approve if decision == "approve" else approvals.deny
    done = act(found.id, by=principal.actor, note=note, tenant=_tenant_scope(principal))
    AuditLog(store).append(
        tenant=done.tenant, actor=principal.actor, action=f"approval.{decision}", subject=done.id,
        details={"tool": done.tool, "note": note or ""},
    )  # fmt: skip
    return done


def flip_switch(
    principal: Principal,
    store: Store,
    *,
    tenant: str,
    engaged: bool,
    agent: str | None,
    tool: str | None,
    reason: str,
) -> Switch:
    """`tenant` "" is global (the caller has checked that its key may do that)."""
    switches = KillSwitch(store)
    change = switches.engage if engaged else switches.release
    switch = change(tenant=tenant, agent=agent, tool=tool, reason=reason, by=principal.actor)
    AuditLog(store).append(
        tenant=tenant or "*", actor=principal.actor, action="killswitch.engage" if engaged else "killswitch.release",
        subject=switch.scope, details={"reason": reason},
    )  # fmt: skip
    return switch

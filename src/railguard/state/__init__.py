"""railguard.state: guards that need state shared across processes, kept in the store.

Approvals, kill switches and entitlements (least privilege) here; budgets, loops, limits,
idempotency, rollback and retries are added by their own modules below.
"""

from railguard.state.approvals import (
    Approval,
    ApprovalNotFound,
    ApprovalNotifier,
    ApprovalNotPending,
    Approvals,
    install_approvals,
)
from railguard.state.entitlements import ENTITLEMENTS_RULE, permitted_tools
from railguard.state.killswitch import KillSwitch, KillSwitchStep, Switch, install_killswitch

# -- budgets, loops, limits, idempotency, rollback, retry: exports added by their owner below ------
# -- end -------------------------------------------------------------------------------------------

__all__ = [
    "ENTITLEMENTS_RULE",
    "Approval",
    "ApprovalNotFound",
    "ApprovalNotPending",
    "ApprovalNotifier",
    "Approvals",
    "KillSwitch",
    "KillSwitchStep",
    "Switch",
    "install_approvals",
    "install_killswitch",
    "permitted_tools",
]

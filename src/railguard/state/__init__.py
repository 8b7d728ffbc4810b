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
# isort: split
from railguard.errors import IdempotencyError as IdempotencyError
from railguard.errors import RollbackError as RollbackError
from railguard.errors import Unavailable as Unavailable
from railguard.state.budgets import BudgetRule as BudgetRule
from railguard.state.budgets import Budgets as Budgets
from railguard.state.budgets import Reservation as Reservation
from railguard.state.budgets import Usage as Usage
from railguard.state.cushions import Cushions as Cushions
from railguard.state.cushions import install_cushions as install_cushions
from railguard.state.idempotency import Idempotency as Idempotency
from railguard.state.idempotency import idempotent as idempotent
from railguard.state.limits import LimitRule as LimitRule
from railguard.state.limits import Limits as Limits
from railguard.state.loops import LoopRules as LoopRules
from railguard.state.loops import Loops as Loops
from railguard.state.provenance import Provenance as Provenance
from railguard.state.provenance import UntypedMode as UntypedMode
from railguard.state.provenance import install_provenance as install_provenance
from railguard.state.retry import Backoff as Backoff
from railguard.state.retry import Breakers as Breakers
from railguard.state.retry import CircuitBreaker as CircuitBreaker
from railguard.state.retry import Fallback as Fallback
from railguard.state.retry import aresilient_call as aresilient_call
from railguard.state.retry import resilient_call as resilient_call
from railguard.state.rollback import Saga as Saga
from railguard.state.rollback import compensate as compensate
from railguard.state.rollback import rollback as rollback
from railguard.state.rollback import undo_action as undo_action

# -- end -------------------------------------------------------------------------------------------

__all__ = [
    "ENTITLEMENTS_RULE",
    "Approval",
    "ApprovalNotFound",
    "ApprovalNotPending",
    "ApprovalNotifier",
    "Approvals",
    "Backoff",
    "Breakers",
    "BudgetRule",
    "Budgets",
    "CircuitBreaker",
    "Cushions",
    "Fallback",
    "Idempotency",
    "IdempotencyError",
    "KillSwitch",
    "KillSwitchStep",
    "LimitRule",
    "Limits",
    "LoopRules",
    "Loops",
    "Provenance",
    "Reservation",
    "RollbackError",
    "Saga",
    "Switch",
    "Unavailable",
    "UntypedMode",
    "Usage",
    "aresilient_call",
    "compensate",
    "idempotent",
    "install_approvals",
    "install_cushions",
    "install_killswitch",
    "install_provenance",
    "permitted_tools",
    "resilient_call",
    "rollback",
    "undo_action",
]

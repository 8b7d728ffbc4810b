"""One engine per tenant, running the tenant's active policy revision with every stateful guard
(kill switch, approvals, the policy's budgets/limits/loops, provenance), all kept in the shared store.

A tenant with no active revision runs the server's default policy (`railguard serve --policy/--pack`,
else the built-in default pack). `refresh()` (every `refresh_s` in the background) swaps in a newly
activated revision, so every replica on the same store applies an activation within a second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from railguard.engine import Engine
from railguard.errors import PolicyError
from railguard.model import Mode
from railguard.policy import CompiledPolicy
from railguard.remote import revision_policy
from railguard.state import Provenance, install_cushions, install_provenance
from railguard.state.cushions import Cushions
from railguard.store import GuardAnswers, PolicyRevisions, Store
from railguard.store._revisions import ActiveRevision

logger = logging.getLogger(__name__)


@dataclass
class TenantEngine:
    tenant: str
    engine: Engine
    cushions: Cushions
    active: ActiveRevision | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    provenance: Provenance | None = None

    def observe_outputs(self, store: Store) -> None:
        """Provenance is installed when the tenant first reports a tool output (`/v1/guard/observe`):
        until then there is nothing to trace back, and its per-check lookup is not paid."""
        with self.lock:
            if self.provenance is None:
                self.provenance = install_provenance(self.engine, store)

    def close(self) -> None:
        self.cushions.close()


class TenantEngines:
    def __init__(
        self,
        store: Store,
        *,
        default_policy: Callable[[], CompiledPolicy],
        refresh_s: float = 0.5,
        killswitch_refresh_s: float = 0.25,
    ) -> None:
        self.store = store
        self.revisions = PolicyRevisions(store)
        self.answers = GuardAnswers(store)
        self._default = default_policy
        self.refresh_s = refresh_s
        self.killswitch_refresh_s = killswitch_refresh_s
        self._engines: dict[str, TenantEngine] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh_errors = 0

    def warm(self) -> None:
        """Load what the default policy's checks need (detectors, compiled patterns: shared by every
        tenant's engine), so the first check of a tenant does not pay for it."""
        Engine(self._default()).close()

    def peek(self, tenant: str) -> TenantEngine | None:
        """The tenant's engine if it is built (building one reads the store: not on the event loop)."""
        return self._engines.get(tenant)

    def get(self, tenant: str) -> TenantEngine:
        found = self._engines.get(tenant)
        if found is not None:
            return found
        with self._lock:
            found = self._engines.get(tenant)
            if found is None:
                found = self._engines[tenant] = self._build(tenant)
        return found

    def _build(self, tenant: str) -> TenantEngine:
        active = self.revisions.active_all().get(tenant)
        policy = self._policy_for(tenant, active) if active is not None else self._default()
        engine = Engine(policy)
        engine.forced_mode = Mode.AUDIT if active is not None and active.mode == "audit" else None
        cushions = install_cushions(engine, self.store, killswitch_refresh_s=self.killswitch_refresh_s)
        built = TenantEngine(tenant, engine, cushions, active)
        if tenant in self.answers.observers():
            built.observe_outputs(self.store)
        return built

    def _policy_for(self, tenant: str, active: ActiveRevision) -> CompiledPolicy:
        revision = self.revisions.get(tenant=tenant, rev=active.rev)
        return revision_policy(revision.content, active.rev)

    def refresh(self) -> int:
        """Apply activations made anywhere since the last refresh; returns how many engines changed."""
        actives = self.revisions.active_all()
        observers = self.answers.observers()
        changed = 0
        for tenant, current in list(self._engines.items()):
            if current.provenance is None and tenant in observers:
                current.observe_outputs(self.store)
            wanted = actives.get(tenant)
            if wanted == current.active:
                continue
            try:
                policy = self._policy_for(tenant, wanted) if wanted is not None else self._default()
            except PolicyError as err:  # validated at upload; a newer Railguard may read it differently
                self.refresh_errors += 1
                logger.error("tenant %s: revision r%s does not load: %s", tenant, wanted and wanted.rev, err)
                continue
            with current.lock:
                current.engine.forced_mode = (
                    Mode.AUDIT if wanted is not None and wanted.mode == "audit" else None
                )
                current.engine.swap(policy)
                current.active = wanted
            changed += 1
        return changed

    def start(self) -> TenantEngines:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="railguard-revisions", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self.refresh()
            except Exception as err:  # the store is down: keep the revisions we have, try again
                self.refresh_errors += 1
                logger.warning("policy revision refresh failed: %s", err)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for tenant_engine in self._engines.values():
                tenant_engine.close()
            self._engines.clear()

"""One store transaction per decision for the store-backed guards (budgets, limits, loop history).

While a call is evaluated each guard adds a `Claim` to the batch of its store (`batch_for`) instead
of going to the store itself. At the end of the guards' stage the engine flushes the batch, which
in ONE write transaction (BEGIN IMMEDIATE on SQLite; on PostgreSQL a transaction whose counter
upserts are conditional, so the row lock they take makes check+charge atomic):

1. reads every counter the claims name in one statement, plus what each claim reads besides (the
   loop history of the run);
2. lets each claim decide its hits, in order, stopping once the call is blocked (a blocked call
   spends nothing);
3. when the call is on its way to be admitted (no enforced block or ask left), charges every claim
   in that same transaction — conditional upserts that re-check the caps, so a cap reached by
   another process in between refuses the call and rolls the whole charge back (all or nothing).

The charge taken there is handed to the engine (`Facts.taken`), which gives it back in a
compensating transaction if the call ends up refused anyway. A call that is not admissible yet (an
ask a human may still approve) leaves one `Charge` for the admission instead, taken in one
transaction too. A dry run (`explain`, backtests) reads on a plain connection and charges nothing.

The kill switch is not part of the transaction: every check reads its in-memory snapshot, which a
background thread refreshes every `refresh_s` (0.5 s by default; `railguard.state.killswitch`), so
a switch engaged anywhere stops calls within that bound, and a store unreadable for longer than the
switch's grace blocks them (fail closed).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

from railguard._decisions import enforced_verdict
from railguard._pipeline import Charge
from railguard.model import RuleHit, Verdict
from railguard.state._counters import RELAX_COMMIT_COLUMN, CounterState, Part, counter_transaction, run_parts
from railguard.store._connect import DriverTx

if TYPE_CHECKING:
    from railguard.engine import Facts
    from railguard.store import Store

__all__ = ["Claim", "Row", "StoreBatch", "batch_for", "read_state"]

Row = tuple[Any, ...]  # (tag, text, number, number, number): the shape of every part of the read


class Claim(Protocol):
    """One guard's part of a decision's transaction."""

    @property
    def name(self) -> str: ...

    @property
    def counter_keys(self) -> Sequence[str]:
        """The rg_counters rows it reads (fetched for all claims at once)."""
        ...

    @property
    def wants_charge(self) -> bool:
        """Set by `decide`: the call, if admitted, is charged to this guard."""
        ...

    def read_parts(self, mark: str, tag: str) -> list[tuple[str, tuple[Any, ...]]]:
        """What it reads besides counters: SELECTs of `Row`s whose first column is `tag` (or a
        longer string starting with it), with their parameters; `mark` is the driver's marker."""
        ...

    def decide(self, rows: Sequence[Row], counters: Mapping[str, CounterState]) -> Sequence[RuleHit]:
        """The guard's hits for the state read (`rows`: its own parts' rows)."""
        ...

    def recheck(self, conn: DriverTx) -> Sequence[RuleHit]:
        """Before charging in a later transaction than `decide`'s: the refusing hits of what
        changed since, which the charge statements do not check themselves."""
        ...

    def charge_parts(self, mark: str) -> Sequence[Part | None]:
        """The statements charging the call, each returning one row when applied (None: refused
        without asking the store)."""
        ...

    def charged(self, conn: DriverTx, rows: Sequence[tuple[Any, ...] | None]) -> Sequence[RuleHit]:
        """The refusing hits, given the rows of `charge_parts` (then the transaction is rolled back)."""
        ...

    def undo(self, conn: DriverTx) -> None:
        """Give the charge back (a compensating write on `conn`)."""
        ...

    def committed(self) -> None:
        """The charge is durable: keep whatever the guard tracks in memory."""
        ...


def read_state(
    tx: DriverTx, keys: Sequence[str], claims: Sequence[Claim], *, relax: bool = False
) -> tuple[dict[str, CounterState], dict[int, list[Row]]]:
    """Everything `claims` need, in ONE statement (a UNION ALL of their parts): the counters, and
    each claim's own rows by its index. `relax` (PostgreSQL): the statement also relaxes the
    transaction's commit (see `counter_transaction`), so that costs no round trip of its own."""
    p = tx.mark
    parts: list[str] = []
    params: list[Any] = []
    if keys:
        parts.append(
            f'SELECT \'c\', "key", calls, total, reserved FROM rg_counters WHERE "key" IN ({", ".join([p] * len(keys))})'
        )
        params.extend(keys)
    for index, claim in enumerate(claims):
        for sql, values in claim.read_parts(p, str(index)):
            parts.append(sql)
            params.extend(values)
    if relax:
        parts.append(f"SELECT 's', {RELAX_COMMIT_COLUMN}, 0, 0, 0")
    found = {key: CounterState() for key in keys}
    own: dict[int, list[Row]] = {}
    if not parts:
        return found, own
    for row in tx.rows(" UNION ALL ".join(parts), tuple(params)):
        tag = row[0]
        if tag == "c":
            found[row[1]] = CounterState(int(row[2]), int(row[3]), int(row[4]))
        elif tag != "s":
            own.setdefault(int(tag.rstrip("abcdefghijklmnopqrstuvwxyz")), []).append(tuple(row))
    return found, own


class _Refused(Exception):
    def __init__(self, hits: Sequence[RuleHit]) -> None:
        super().__init__("refused")
        self.hits = hits


class StoreBatch:
    """The claims of one evaluation on one store (see the module docstring)."""

    __slots__ = ("claims", "store")

    def __init__(self, store: Store) -> None:
        self.store = store
        self.claims: list[Claim] = []

    def add(self, claim: Claim) -> None:
        self.claims.append(claim)

    def flush(self, facts: Facts) -> None:
        if not self.claims or facts.provisional is Verdict.BLOCK:
            return  # blocked since the guards asked: nothing to read, nothing to spend
        started = time.perf_counter_ns()
        try:
            self._flush(facts)
        finally:
            facts.store_ns += time.perf_counter_ns() - started

    def _flush(self, facts: Facts) -> None:
        claims = self.claims
        keys = list(dict.fromkeys(key for claim in claims for key in claim.counter_keys))
        if facts.dry_run:
            with self.store.driver_transaction(write=False) as tx:
                self._decide(read_state(tx, keys, claims), facts)
            return
        charging: list[Claim] = []
        try:
            with counter_transaction(self.store, relaxed=False) as tx:
                relax = tx.dialect == "postgresql"
                active = self._decide(read_state(tx, keys, claims, relax=relax), facts)
                charging = [claim for claim in active if claim.wants_charge]
                if not charging:
                    return
                verdict = enforced_verdict(facts.hits, facts.approval_id, facts.approved_rules)
                if verdict.rank > Verdict.MODIFY.rank:  # not admissible now: maybe after an approval
                    facts.on_admit(self._deferred(charging))
                    return
                refused = self._charge(tx, charging, fresh=False)
                if refused:
                    raise _Refused(refused)
        except _Refused as refusal:  # a cap another process reached between the read and the charge
            facts.hits.extend(refusal.hits)
            return
        for claim in charging:
            claim.committed()
        facts.taken.append(Charge(_names(charging), tuple, lambda: self._undo(charging)))

    def _decide(
        self, state: tuple[Mapping[str, CounterState], Mapping[int, list[Row]]], facts: Facts
    ) -> list[Claim]:
        counters, own = state
        active: list[Claim] = []
        for index, claim in enumerate(self.claims):
            if facts.provisional is Verdict.BLOCK:
                break  # cheapest refusal first: a blocked call is charged to no later guard
            facts.hits.extend(claim.decide(own.get(index, ()), counters))
            active.append(claim)
        return active

    @staticmethod
    def _charge(tx: DriverTx, claims: Sequence[Claim], *, fresh: bool) -> list[RuleHit]:
        """Charge every claim (all or nothing: the caller rolls back on a refusal). The charges go
        to the store as one statement where the dialect allows (PostgreSQL)."""
        if fresh:
            for claim in claims:
                refused = list(claim.recheck(tx))
                if refused:
                    return refused
        planned = [(claim, claim.charge_parts(tx.mark)) for claim in claims]
        keys = [key for claim in claims for key in claim.counter_keys]
        rows = run_parts(
            tx, [part for _, parts in planned for part in parts], combine=len(set(keys)) == len(keys)
        )
        start = 0
        for claim, parts in planned:
            refused = list(claim.charged(tx, rows[start : start + len(parts)]))
            start += len(parts)
            if refused:
                return refused
        return []

    def _deferred(self, claims: list[Claim]) -> Charge:
        """The charge of a call admitted later (after an approval), in one transaction of its own."""

        def take() -> Sequence[RuleHit]:
            try:
                with counter_transaction(self.store) as conn:
                    refused = self._charge(conn, claims, fresh=True)
                    if refused:
                        raise _Refused(refused)
            except _Refused as refusal:
                return refusal.hits
            for claim in claims:
                claim.committed()
            return ()

        return Charge(_names(claims), take, lambda: self._undo(claims))

    def _undo(self, claims: Sequence[Claim]) -> None:
        with counter_transaction(self.store) as conn:
            for claim in reversed(claims):
                claim.undo(conn)


def _names(claims: Sequence[Claim]) -> str:
    return "+".join(dict.fromkeys(claim.name for claim in claims))


def batch_for(facts: Facts, store: Store) -> StoreBatch:
    """The batch of `store` for the evaluation `facts` belongs to."""
    return cast(StoreBatch, facts.batch(store, lambda: StoreBatch(store)))

"""One read and one charge per decision for the store-backed guards (budgets, limits, loop history).

While a call is evaluated each guard adds a `Claim` to the batch of its store (`batch_for`) instead
of going to the store itself. At the end of the guards' stage the engine flushes the batch:

1. every counter the claims name, plus what each claim reads besides (the loop history of the run),
   is read in ONE statement;
2. each claim decides its hits, in order, stopping once the call is blocked (a blocked call spends
   nothing);
3. when the call is on its way to be admitted (no enforced block or ask left), every claim is
   charged, all or nothing, by conditional upserts that re-check the caps, so a cap reached by
   another process since the read refuses the call.

SQLite runs all three in one BEGIN IMMEDIATE transaction. PostgreSQL sends two statements and
nothing else (no BEGIN, no COMMIT: two round trips): the read, then the charge as one statement
that commits by itself and fails as a whole when any part is refused (`charge_at_once`); only then
is the charge redone in a transaction, which tells which cap refused it. Under read committed
that is what one transaction around both gave: each statement saw a snapshot of its own, and only
the upserts' row locks serialize the processes.

The charge taken there is handed to the engine (`Facts.taken`), which gives it back in a
compensating transaction if the call ends up refused anyway. A call that is not admissible yet (an
ask a human may still approve) leaves one `Charge` for the admission instead, taken in one
transaction. A dry run (`explain`, backtests) only reads, and charges nothing.

The kill switch is not part of it: every check reads its in-memory snapshot, which a background
thread refreshes every `refresh_s` (0.5 s by default; `railguard.state.killswitch`), so a switch
engaged anywhere stops calls within that bound, and a store unreadable for longer than the
switch's grace blocks them (fail closed).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

from railguard._decisions import enforced_verdict
from railguard._pipeline import Charge
from railguard.model import RuleHit, Verdict
from railguard.state._counters import CounterState, Part, charge_at_once, counter_transaction, run_parts
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
    tx: DriverTx, keys: Sequence[str], claims: Sequence[Claim]
) -> tuple[dict[str, CounterState], dict[int, list[Row]]]:
    """Everything `claims` need, in ONE statement (a UNION ALL of their parts): the counters, and
    each claim's own rows by its index."""
    p = tx.mark
    parts: list[str] = []
    params: list[Any] = []
    if keys:
        parts.append(_counters_part(p, len(keys)))
        params.extend(keys)
    for index, claim in enumerate(claims):
        for sql, values in claim.read_parts(p, str(index)):
            parts.append(sql)
            params.extend(values)
    found = {key: CounterState() for key in keys}
    own: dict[int, list[Row]] = {}
    if not parts:
        return found, own
    for row in tx.rows(" UNION ALL ".join(parts), tuple(params)):
        tag = row[0]
        if tag == "c":
            found[row[1]] = CounterState(int(row[2]), int(row[3]), int(row[4]))
        else:
            own.setdefault(int(tag.rstrip("abcdefghijklmnopqrstuvwxyz")), []).append(tuple(row))
    return found, own


@functools.cache
def _counters_part(p: str, n: int) -> str:
    return (
        f'SELECT \'c\', "key", calls, total, reserved FROM rg_counters WHERE "key" IN ({", ".join([p] * n)})'
    )


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
        if self.store.dialect == "postgresql":
            self._flush_statements(facts, keys)
            return
        charging: list[Claim] = []
        try:
            with counter_transaction(self.store) as tx:
                charging = self._admissible(self._decide(read_state(tx, keys, claims), facts), facts)
                if not charging:
                    return
                refused = self._charge(tx, charging, fresh=False)
                if refused:
                    raise _Refused(refused)
        except _Refused as refusal:  # a cap another process reached between the read and the charge
            facts.hits.extend(refusal.hits)
            return
        self._taken(charging, facts)

    def _flush_statements(self, facts: Facts, keys: list[str]) -> None:
        """PostgreSQL: the read and the charge are one statement each, each its own transaction
        (two round trips, no BEGIN or COMMIT). Under read committed the statements of a transaction
        each see a snapshot of their own anyway, and the charge is all or nothing by itself
        (`charge_at_once`). A charge refused there (a cap another process reached in between)
        applied nothing: it is redone in a transaction, which tells which cap refused it."""
        with self.store.driver_statements() as tx:
            charging = self._admissible(self._decide(read_state(tx, keys, self.claims), facts), facts)
            if not charging:
                return
            applied, refused = self._charge_at_once(tx, charging)
        if not applied:
            refused = self._charge_in_transaction(charging, fresh=True)
        elif refused:  # applied, yet a claim refuses what it got back: give it all back
            self._undo(charging)
        if refused:
            facts.hits.extend(refused)
            return
        self._taken(charging, facts)

    @staticmethod
    def _charge_at_once(tx: DriverTx, claims: Sequence[Claim]) -> tuple[bool, list[RuleHit]]:
        """(applied, refusing hits): every claim's charge in one statement, if their parts allow it."""
        planned = [(claim, claim.charge_parts(tx.mark)) for claim in claims]
        keys = [key for claim in claims for key in claim.counter_keys]
        if len(set(keys)) != len(keys):
            return False, []  # a row may change once per statement
        rows = charge_at_once(tx, [part for _, parts in planned for part in parts])
        if rows is None:
            return False, []
        return True, StoreBatch._charged(tx, planned, rows)

    def _admissible(self, active: list[Claim], facts: Facts) -> list[Claim]:
        """The claims to charge now: none when nothing is to be charged, or when the call is not
        admissible yet (an ask a human may still approve: its charge waits for the admission)."""
        charging = [claim for claim in active if claim.wants_charge]
        if not charging:
            return []
        verdict = enforced_verdict(facts.hits, facts.approval_id, facts.approved_rules)
        if verdict.rank > Verdict.MODIFY.rank:  # not admissible now: maybe after an approval
            facts.on_admit(self._deferred(charging))
            return []
        return charging

    def _taken(self, charging: list[Claim], facts: Facts) -> None:
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
        return StoreBatch._charged(tx, planned, rows)

    @staticmethod
    def _charged(
        tx: DriverTx,
        planned: Sequence[tuple[Claim, Sequence[Part | None]]],
        rows: Sequence[tuple[Any, ...] | None],
    ) -> list[RuleHit]:
        """The first refusing hits of the claims, given the rows of their charge parts (in order)."""
        start = 0
        for claim, parts in planned:
            refused = list(claim.charged(tx, rows[start : start + len(parts)]))
            start += len(parts)
            if refused:
                return refused
        return []

    def _charge_in_transaction(self, claims: Sequence[Claim], *, fresh: bool) -> list[RuleHit]:
        """Charge `claims` in a transaction of their own, all or nothing: the refusing hits, if any."""
        try:
            with counter_transaction(self.store) as conn:
                refused = self._charge(conn, claims, fresh=fresh)
                if refused:
                    raise _Refused(refused)
        except _Refused as refusal:
            return list(refusal.hits)
        return []

    def _deferred(self, claims: list[Claim]) -> Charge:
        """The charge of a call admitted later (after an approval), in one transaction of its own."""

        def take() -> Sequence[RuleHit]:
            refused = self._charge_in_transaction(claims, fresh=True)
            if refused:
                return refused
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

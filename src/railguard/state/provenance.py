"""Provenance: values that came from untrusted tool outputs must not drive actions on their own.

    provenance = install_provenance(engine, store)          # step + output observer
    provenance.record_user_input("Pay my rent to GB29 NWBK 6016 1331 9268 19")
    ... @engine.guard-ed tools declared `output_trust: untrusted` feed their outputs automatically;
    ... integrations call provenance.record_output(action, output) themselves.

Per run (context `run`, else `session`), typed entities (e-mails, IBANs, cards, phones, hosts,
crypto addresses, paths, long numbers; see `_provenance_entities`) found in untrusted outputs are
tainted. An acting call (not declared `read`, or in `acting_tools`) whose arguments carry a tainted
entity that neither the user's own instructions nor a trusted output carried gets
`provenance/untrusted-value` (ask by default); when the output that brought it in had injection
signals, `provenance/injected-value` (block by default). Only digests and masked previews are kept.

String arguments are also matched as word sequences (a hotel name, a new password, a message body
copied from a page; see `_provenance_text`) and reported with kind "text": by default
(`untyped="injected"`) only when the output that carried them had injection signals; `untyped=True`
reports them all, `False` turns them off.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from railguard.errors import ConfigurationError
from railguard.model import Action, Context, Effect, Mode, RuleHit, Severity, ToolSpec, Trust, Verdict
from railguard.state._counters import bounded_key, hit_mode
from railguard.state._provenance_entities import (
    Entity,
    entity_key,
    extract_entities,
    masked,
    split_fields,
    text_leaves,
)
from railguard.state._provenance_integrity import (
    ContextTaint,
    IntegrityState,
    MemoryIntegrity,
    StoreIntegrity,
)
from railguard.state._provenance_pointers import call_pointers, user_pointers
from railguard.state._provenance_records import MemoryRecords, Records, StoreRecords, TaintRecord
from railguard.state._provenance_text import (
    GramSighting,
    MemoryGrams,
    TextValue,
    argument_values,
    fast_gram_keys,
    gram_keys,
    words,
)
from railguard.store import Store

if TYPE_CHECKING:
    from railguard.engine import Engine, Facts

__all__ = ["Provenance", "TaintedValue", "install_provenance"]

logger = logging.getLogger("railguard")

UNTRUSTED_RULE = "provenance/untrusted-value"
INJECTED_RULE = "provenance/injected-value"
CONTEXT_RULE = "provenance/untrusted-instructions"
_ACTING_EFFECTS = frozenset({Effect.WRITE, Effect.EXEC, Effect.IRREVERSIBLE})
_MAX_NAMED = 3  # values named in one message
_POINTER = "pointer"  # record kind: a source the user named (see _provenance_pointers)
_MAX_REMEMBERED = 10_000  # (run, tool) -> last checked call, for outputs fed without their call
UNTYPED_DEFAULT: UntypedMode = "injected"  # chosen on AgentDojo's dev suites: see docs/provenance.md

TrustResolver = Callable[[str], "Trust | None"]
# False: typed entities only; True: also untyped text; "injected": untyped text only when the untrusted
# output that carried it had injection signals (a name alone is weak evidence; a name in an attack is not).
UntypedMode = bool | Literal["injected"]
# What an acting call gets once untrusted content with instruction signals entered the run, until the
# user speaks again: "off", "ask" (a person confirms) or "block".
IntegrityMode = Literal["off", "ask", "block"]
INTEGRITY_DEFAULT: IntegrityMode = "ask"  # chosen on AgentDojo's dev suites: see docs/provenance.md


@dataclass(frozen=True, slots=True)
class TaintedValue:
    """A value in an action's arguments that an untrusted output brought into the run."""

    argument: str
    kind: str
    preview: str
    source: str
    injected: bool


class Provenance:
    """Taint tracking for one process (`Provenance()`) or many (`Provenance(store)`); an engine step."""

    def __init__(
        self,
        store: Store | None = None,
        *,
        verdict: Verdict | str = Verdict.ASK,
        injected_verdict: Verdict | str = Verdict.BLOCK,
        acting_tools: Iterable[str] | None = None,
        trust_of: TrustResolver | None = None,
        untyped: UntypedMode = UNTYPED_DEFAULT,
        integrity: IntegrityMode = INTEGRITY_DEFAULT,
        spec_of: Callable[[str], ToolSpec | None] | None = None,
    ) -> None:
        """`acting_tools`: when given, only these tools (and ones declared write/exec/irreversible)
        are checked; by default every tool not declared `read` is. `trust_of(tool)` tells the
        declared output trust when `record_output` is called without `trusted=`. `untyped`: also
        track untyped string values (names, free text) by word n-gram digests; "injected": report
        them only when the output that carried them had injection signals. `integrity`: what an
        acting call gets once an untrusted output with injection signals entered the run, until the
        user speaks again ("off", "ask" or "block")."""
        if integrity not in ("off", "ask", "block"):
            raise ConfigurationError(f"integrity must be 'off', 'ask' or 'block', not {integrity!r}")
        self.verdict = Verdict(verdict)
        self.integrity: IntegrityMode = integrity
        self.injected_verdict = Verdict(injected_verdict)
        self.acting_tools = None if acting_tools is None else frozenset(acting_tools)
        self.untyped = untyped
        self._trust_of = trust_of
        self._spec_of = spec_of
        # In one process, records wait until they can matter (see `MemoryRecords.add_later`).
        self._memory_records: MemoryRecords | None = None
        if store is None:
            self._memory_records = MemoryRecords()
            self._records: Records = self._memory_records
        else:
            self._records = StoreRecords(store)
        # Word grams outnumber entities by far. In one process they live in their own index of
        # in-process hashes (set operations in C); with a store, as run-salted digests in its rows.
        self._store_grams = store is not None
        self._memory_grams = MemoryGrams()
        self._context: IntegrityState = StoreIntegrity(store) if store is not None else MemoryIntegrity()
        # The last action checked per (run, tool): an output fed without its action still can't
        # vouch for the arguments the call carried (the echo rule below).
        self._last_actions: OrderedDict[tuple[str, str], Action] = OrderedDict()
        self._last_lock = threading.Lock()

    # -- feeding -------------------------------------------------------------------------------

    def record_user_input(self, text: Any, *, context: Context | None = None) -> int:
        """The user's own words: values there are trusted even if untrusted content repeats them, and
        the user speaking starts a new turn (run-level integrity is restored). Returns how many
        entities were recorded (as `record_output`)."""
        ctx = context or _current()
        run = _run_key(ctx)
        if run is None:
            return 0
        if self.integrity != "off":
            self._context.clear(run)
        pointers = user_pointers(run, text)
        if pointers:
            self._records.add(run, (TaintRecord(p, _POINTER, "", "user", True, False) for p in pointers))
        return self._record(ctx, "user", text, trusted=True, scan=False)

    def record_system_input(self, text: Any, *, context: Context | None = None) -> int:
        """Trusted instructions that are not the user speaking (a system prompt, a developer's
        template): they vouch for their values but do not start a new turn."""
        return self._record(context or _current(), "system", text, trusted=True, scan=False)

    def record_output(
        self,
        action_or_tool: Action | str,
        output: Any,
        *,
        trusted: bool | None = None,
        context: Context | None = None,
    ) -> int:
        """A tool's output. `trusted=None` follows the tool's declaration (`spec_of`, else
        `trust_of`), fields included; with no declaration the output is untrusted, as on every
        path. Returns how many entities were recorded with a store (0 in one process, where they
        are extracted when a check first needs them)."""
        if isinstance(action_or_tool, Action):
            action = action_or_tool
            ctx = context or action.context
        else:
            ctx = context or _current()
            action = Action(action_or_tool, {}, context=ctx)
        spec = self._spec_of(action.tool) if self._spec_of is not None else None
        if trusted is None:
            if spec is not None:
                return self._output(ctx, action, output, spec)
            declared = self._trust_of(action.tool) if self._trust_of is not None else None
            trusted = declared is Trust.TRUSTED
        call = self._call_of(action, ctx)
        directed = not self.is_acting(action.tool, spec) and self._directed(ctx, call)
        return self._record(ctx, action.tool, output, trusted=trusted, echo_of=call, directed=directed)

    def observe_input(self, text: Any, context: Context, speaker: str) -> None:
        """The engine's input observer (`engine.record_user_input` / `record_system_input`)."""
        if speaker == "user":
            self.record_user_input(text, context=context)
        else:
            self.record_system_input(text, context=context)

    def observe(self, action: Action, output: Any, spec: ToolSpec | None) -> None:
        """The engine's output observer: declared-trusted outputs vouch; every other output (declared
        untrusted, or a tool nobody declared) taints, as on the `record_output` path."""
        self._output(action.context, action, output, spec)

    def _output(self, ctx: Context, action: Action, output: Any, spec: ToolSpec | None) -> int:
        trusted = spec is not None and spec.output_trust is Trust.TRUSTED
        call = self._call_of(action, ctx)
        directed = not self.is_acting(action.tool, spec) and self._directed(ctx, call)
        if trusted and spec is not None and spec.untrusted_fields:
            # A trusted catalogue with third-party text in some fields (reviews, comments).
            outside, own = split_fields(output, frozenset(spec.untrusted_fields))
            count = self._record(ctx, action.tool, own, trusted=True, echo_of=call, directed=directed)
            return count + self._record(
                ctx, action.tool, outside, trusted=False, echo_of=call, directed=directed
            )
        return self._record(ctx, action.tool, output, trusted=trusted, echo_of=call, directed=directed)

    def _directed(self, ctx: Context, call: Action) -> bool:
        """Whether `call` reads a source the user pointed at (an argument names a user pointer)."""
        run = _run_key(ctx)
        if run is None or not call.args:
            return False
        wanted = call_pointers(run, dict(call.args))
        if not wanted:
            return False
        # Pointers are recorded at once: the values of outputs still held back need not be extracted.
        memory = self._memory_records
        found = memory.lookup_made(run, wanted) if memory is not None else self._records.lookup(run, wanted)
        return any(r.kind == _POINTER for r in found)

    def _call_of(self, action: Action, ctx: Context) -> Action:
        """The call an output answers: `action` itself, or when it came without its arguments (an
        output fed by tool name alone), the last checked call of that tool in the run."""
        if action.args or action.call_id is not None:
            return action
        run = _run_key(ctx)
        if run is None:
            return action
        with self._last_lock:
            return self._last_actions.get((run, action.tool), action)

    def _remember(self, run: str, action: Action) -> None:
        with self._last_lock:
            self._last_actions[(run, action.tool)] = action
            self._last_actions.move_to_end((run, action.tool))
            while len(self._last_actions) > _MAX_REMEMBERED:
                self._last_actions.popitem(last=False)

    def _record(
        self,
        ctx: Context,
        source: str,
        value: Any,
        *,
        trusted: bool,
        echo_of: Action | None = None,
        scan: bool = True,
        directed: bool = False,
    ) -> int:
        """Record the entities (and with `untyped`, the word grams) of `value`; returns how many
        entities were recorded."""
        run = _run_key(ctx)
        if run is None:
            return 0
        leaves = [text for _, text in text_leaves(value)]
        # Content carrying instructions is never trusted, whatever the tool's declaration says: a
        # trusted tool can relay third-party text (a calendar entry, a review, a file).
        injected = scan and _carries_instructions(leaves)
        if injected:
            trusted = False
            if self.integrity != "off":
                call_id = echo_of.call_id if echo_of is not None and echo_of.call_id else ""
                self._context.taint(run, ContextTaint(source[:256], call_id))
        elif directed:
            trusted = True  # the user delegated the values of the source they pointed at
        source = source[:256]
        # The texts of the call a trusted output answers (a tool echoing them vouches for nothing).
        echoed = (
            [text for _, text in text_leaves(dict(echo_of.args))] if trusted and echo_of is not None else []
        )
        if self._memory_records is not None:
            # In one process an output's entities are extracted only when a check first looks typed
            # values up in a run holding untrusted ones (trusted values vouch, which matters only
            # then): counted as 0 here.
            make = partial(_output_records, leaves, echoed, source, trusted, injected)
            self._memory_records.add_later(run, make, sum(map(len, leaves)), untrusted=not trusted)
            entities: dict[str, Entity] = {}
        else:
            entities = self._entities_of(leaves, trusted=trusted, echo_of=echo_of)
        # In "injected" mode a clean untrusted output can never be the source of a text hit: skip
        # indexing it (most of the cost); trusted outputs are still indexed, since they vouch.
        wanted = self.untyped is True or (self.untyped == "injected" and (trusted or injected))
        if wanted and trusted and not self._store_grams:
            # In one process a trusted text is indexed only once untrusted grams reach the run.
            self._memory_grams.add_trusted(run, leaves, echoed)
            wanted = False
        grams = self._grams_of(run, leaves, trusted=trusted, echo_of=echo_of) if wanted else set()
        if not entities and not grams:
            return 0
        if entities:
            self._records.add(run, _records_of(entities, source, trusted, injected))
        if grams:
            if self._store_grams:
                self._records.add(
                    run, (TaintRecord(str(k), "text", "", source, trusted, injected) for k in grams)
                )
            else:
                self._memory_grams.add(run, grams, source=source, trusted=trusted, injected=injected)
        return len(entities)

    def _entities_of(self, leaves: list[str], *, trusted: bool, echo_of: Action | None) -> dict[str, Entity]:
        # A trusted tool that echoes its own arguments back ("note saved: ...") vouches for nothing:
        # otherwise it would launder a value the agent copied from untrusted content.
        echoed = set(_argument_entities(echo_of)) if trusted and echo_of is not None else set()
        return _leaf_entities(leaves, echoed)

    def _grams_of(self, run: str, leaves: list[str], *, trusted: bool, echo_of: Action | None) -> set[Any]:
        def keys(text: str) -> set[Any]:
            tokens = words(text)
            return set(gram_keys(run, tokens)) if self._store_grams else fast_gram_keys(tokens)

        grams: set[Any] = set()
        for text in leaves:
            found = keys(text)
            if grams:
                grams |= found
            else:
                grams = found  # the common single-text output: no copy of its keys
        if trusted and echo_of is not None:  # the same laundering rule as for entities
            for _, text in text_leaves(dict(echo_of.args)):
                grams -= keys(text)
        return grams

    # -- checking ------------------------------------------------------------------------------

    def tainted_values(self, action: Action) -> list[TaintedValue]:
        """The argument values of `action` that only untrusted outputs brought into its run."""
        run = _run_key(action.context)
        if run is None:
            return []
        out = []
        where = _argument_entities(action)
        if where:
            for record in self._records.lookup(run, where):
                if not record.trusted:
                    argument, _ = where[record.entity]
                    out.append(
                        TaintedValue(argument, record.kind, record.preview, record.source, record.injected)
                    )
        if self.untyped:
            out.extend(self._tainted_texts(run, action))
        return out

    def _tainted_texts(self, run: str, action: Action) -> list[TaintedValue]:
        values = argument_values(run, dict(action.args), fast=not self._store_grams)
        if not values:
            return []
        wanted = [key for value in values for key in value.keys]
        found: Sequence[TaintRecord | GramSighting] = (
            self._records.lookup(run, [str(k) for k in wanted])
            if self._store_grams
            else self._memory_grams.lookup(run, wanted)
        )
        known: dict[Any, TaintRecord | GramSighting] = {r.entity: r for r in found}
        out = []
        for value in values:
            untrusted = _untrusted_sighting(value, known)
            if untrusted is not None and (self.untyped is True or untrusted.injected):
                preview = f"{value.word_count} word{'s' if value.word_count > 1 else ''}"
                out.append(
                    TaintedValue(value.argument, "text", preview, untrusted.source, untrusted.injected)
                )
        return out

    def is_acting(self, tool: str, spec: ToolSpec | None) -> bool:
        effect = spec.effect if spec is not None else Effect.UNKNOWN
        if effect in _ACTING_EFFECTS:
            return True
        if self.acting_tools is not None:
            return tool in self.acting_tools
        return effect is not Effect.READ

    def check(self, action: Action, spec: ToolSpec | None = None, mode: Mode = Mode.ENFORCE) -> list[RuleHit]:
        run = _run_key(action.context)
        if run is not None:
            self._remember(run, action)
        else:
            _warn_once("no-run", "provenance saw a call outside a run scope (the context has no run or "
                       "session), so nothing is tracked for it: wrap the agent's work in rg.run(...)")  # fmt: skip
        if spec is None:
            _warn_once(f"undeclared:{action.tool[:100]}", f"tool '{action.tool[:100]}' is not declared: "
                       "provenance treats it as acting and its output as untrusted; declare it (see "
                       "`railguard tools suggest`)")  # fmt: skip
        if not self.is_acting(action.tool, spec):
            return []
        hits: list[RuleHit] = []
        if run is not None and self.integrity != "off":
            taint = self._context.current(run)
            if taint is not None:
                hits.append(_context_hit(taint, Verdict(self.integrity), mode))
        tainted = self.tainted_values(action)
        if not tainted:
            return hits
        injected = [t for t in tainted if t.injected]
        if injected:
            hits.append(self._hit(INJECTED_RULE, self.injected_verdict, Severity.HIGH, mode, injected))
        plain = [t for t in tainted if not t.injected]
        if plain:
            hits.append(self._hit(UNTRUSTED_RULE, self.verdict, Severity.MEDIUM, mode, plain))
        return hits

    def __call__(self, action: Action, facts: Facts) -> list[RuleHit]:
        if facts.provisional is Verdict.BLOCK:
            run = _run_key(action.context)
            if run is not None:
                self._remember(run, action)
            return []  # already stopped: spare the lookups
        return self.check(action, facts.spec, hit_mode(facts))

    def _hit(
        self, rule: str, verdict: Verdict, severity: Severity, mode: Mode, values: Sequence[TaintedValue]
    ) -> RuleHit:
        named = "; ".join(_describe(v) for v in values[:_MAX_NAMED])
        more = f" (and {len(values) - _MAX_NAMED} more)" if len(values) > _MAX_NAMED else ""
        why = (
            "that output carried prompt-injection signals"
            if rule == INJECTED_RULE
            else "the user's request did not contain it"
        )
        message = f"{named}{more}; {why}: confirm the user wants this"
        return RuleHit(rule, verdict, message, severity, mode, "provenance", ("provenance",))


_warned: set[str] = set()
_MAX_WARNINGS = 1_000


def _warn_once(key: str, message: str) -> None:
    """A set-up problem worth one log line per process (not per call)."""
    if key in _warned or len(_warned) >= _MAX_WARNINGS:
        return
    _warned.add(key)
    logger.warning("railguard: %s", message)


def _context_hit(taint: ContextTaint, verdict: Verdict, mode: Mode) -> RuleHit:
    call = f" (call {taint.call_id})" if taint.call_id else ""
    message = (
        f"the output of {taint.source}{call} carried instructions from untrusted content, and the user "
        "has not spoken since: this call may be driven by them; confirm the user wants it"
    )
    return RuleHit(CONTEXT_RULE, verdict, message, Severity.HIGH, mode, "provenance", ("provenance",))


def _carries_instructions(leaves: list[str]) -> bool:
    if not leaves:
        return False
    from railguard.detect.injection import score_injection

    return any(score_injection(text).flagged for text in leaves)


def _leaf_entities(leaves: list[str], echoed: set[str]) -> dict[str, Entity]:
    """Entity digest -> entity for the texts of an output, but the digests in `echoed`."""
    entities: dict[str, Entity] = {}
    for text in leaves:
        for entity in extract_entities(text):
            key = entity_key(entity.kind, entity.value)
            if key not in echoed:
                entities.setdefault(key, entity)
    return entities


def _records_of(entities: dict[str, Entity], source: str, trusted: bool, injected: bool) -> list[TaintRecord]:
    return [
        TaintRecord(key, e.kind, masked(e.kind, e.value), source, trusted, injected)
        for key, e in entities.items()
    ]


def _output_records(
    leaves: list[str], echoed: list[str], source: str, trusted: bool, injected: bool
) -> list[TaintRecord]:
    """The records of an output's texts, as `_record` makes them (`echoed`: the texts of the call a
    trusted output answers, whose values a tool echoing them back does not vouch for)."""
    skip = {entity_key(e.kind, e.value) for text in echoed for e in extract_entities(text)}
    return _records_of(_leaf_entities(leaves, skip), source, trusted, injected)


def _argument_entities(action: Action) -> dict[str, tuple[str, Entity]]:
    """Entity digest -> (argument path, entity) for the arguments of `action`."""
    where: dict[str, tuple[str, Entity]] = {}
    for argument, text in text_leaves(dict(action.args)):
        for entity in extract_entities(text):
            where.setdefault(entity_key(entity.kind, entity.value), (argument, entity))
    return where


def _untrusted_sighting(
    value: TextValue, known: dict[Any, TaintRecord | GramSighting]
) -> TaintRecord | GramSighting | None:
    """The record that makes `value` tainted (seen only in untrusted outputs), or None."""
    records = [known.get(key) for key in value.keys]
    if value.mode == "chain" and any(r is None for r in records):
        return None  # some part of the phrase was never seen: not copied
    untrusted = [r for r in records if r is not None and not r.trusted]
    if not untrusted:
        return None
    injected = [r for r in untrusted if r.injected]
    return (injected or untrusted)[0]


def _describe(value: TaintedValue) -> str:
    if value.kind == "text":  # never quote text: it may be a password or a private message
        return (
            f"text ({value.preview}) in argument '{value.argument}' first appeared in the output of "
            f"{value.source} (untrusted)"
        )
    return (
        f"{value.kind} '{value.preview}' in argument '{value.argument}' first appeared in the output "
        f"of {value.source} (untrusted)"
    )


def _current() -> Context:
    from railguard.model import current_context

    return current_context()


def _run_key(ctx: Context) -> str | None:
    run = ctx.run or ctx.session
    return None if not run else bounded_key("prov", ctx.tenant or "", run)


def install_provenance(
    engine: Engine,
    store: Store | None = None,
    *,
    verdict: Verdict | str = Verdict.ASK,
    injected_verdict: Verdict | str = Verdict.BLOCK,
    acting_tools: Iterable[str] | None = None,
    untyped: UntypedMode = UNTYPED_DEFAULT,
    integrity: IntegrityMode = INTEGRITY_DEFAULT,
) -> Provenance:
    """Add the provenance step to `engine` (guards stage) and observe its tool outputs, so
    `@engine.guard`-ed tools declared `output_trust: untrusted` feed it automatically."""

    def trust_of(tool: str) -> Trust | None:
        spec = engine.tool_spec(tool)
        return None if spec is None else spec.output_trust

    provenance = Provenance(
        store,
        verdict=verdict,
        injected_verdict=injected_verdict,
        acting_tools=acting_tools,
        trust_of=trust_of,
        untyped=untyped,
        integrity=integrity,
        spec_of=engine.tool_spec,
    )
    engine.add_step(provenance, stage="guards", name="provenance")
    engine.observe_output(provenance.observe)
    engine.observe_input(provenance.observe_input)
    return provenance

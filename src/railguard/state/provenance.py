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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from railguard.model import Action, Context, Effect, Mode, RuleHit, Severity, ToolSpec, Trust, Verdict
from railguard.state._counters import bounded_key, hit_mode
from railguard.state._provenance_entities import (
    Entity,
    entity_key,
    extract_entities,
    masked,
    text_leaves,
)
from railguard.state._provenance_records import MemoryRecords, Records, StoreRecords, TaintRecord
from railguard.state._provenance_text import TextValue, argument_values, gram_keys, words
from railguard.store import Store

if TYPE_CHECKING:
    from railguard.engine import Engine, Facts

__all__ = ["Provenance", "TaintedValue", "install_provenance"]

UNTRUSTED_RULE = "provenance/untrusted-value"
INJECTED_RULE = "provenance/injected-value"
_ACTING_EFFECTS = frozenset({Effect.WRITE, Effect.EXEC, Effect.IRREVERSIBLE})
_MAX_NAMED = 3  # values named in one message
UNTYPED_DEFAULT: UntypedMode = "injected"  # chosen on AgentDojo's dev suites: see docs/provenance.md

TrustResolver = Callable[[str], "Trust | None"]
# False: typed entities only; True: also untyped text; "injected": untyped text only when the untrusted
# output that carried it had injection signals (a name alone is weak evidence; a name in an attack is not).
UntypedMode = bool | Literal["injected"]


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
    ) -> None:
        """`acting_tools`: when given, only these tools (and ones declared write/exec/irreversible)
        are checked; by default every tool not declared `read` is. `trust_of(tool)` tells the
        declared output trust when `record_output` is called without `trusted=`. `untyped`: also
        track untyped string values (names, free text) by word n-gram digests; "injected": report
        them only when the output that carried them had injection signals."""
        self.verdict = Verdict(verdict)
        self.injected_verdict = Verdict(injected_verdict)
        self.acting_tools = None if acting_tools is None else frozenset(acting_tools)
        self.untyped = untyped
        self._trust_of = trust_of
        self._records: Records = StoreRecords(store) if store is not None else MemoryRecords()
        # Word grams outnumber entities by far: their own bounded map, so they never evict entities.
        self._text_records: Records = (
            self._records if store is not None else MemoryRecords(max_runs=1_000, max_per_run=250_000)
        )

    # -- feeding -------------------------------------------------------------------------------

    def record_user_input(self, text: Any, *, context: Context | None = None) -> int:
        """The user's own instructions: values there are trusted even if untrusted content repeats
        them. Returns how many entities were recorded."""
        return self._record(context or _current(), "user", text, trusted=True)

    def record_output(
        self,
        action_or_tool: Action | str,
        output: Any,
        *,
        trusted: bool | None = None,
        context: Context | None = None,
    ) -> int:
        """A tool's output. `trusted=None` asks the declared output trust (`trust_of`); with no
        declaration the output is taken as untrusted, since a caller feeding it by hand usually
        does so because it came from outside. Returns how many entities were recorded."""
        if isinstance(action_or_tool, Action):
            tool, ctx = action_or_tool.tool, context or action_or_tool.context
        else:
            tool, ctx = action_or_tool, context or _current()
        if trusted is None:
            declared = self._trust_of(tool) if self._trust_of is not None else None
            trusted = declared is Trust.TRUSTED
        return self._record(ctx, tool, output, trusted=trusted)

    def observe(self, action: Action, output: Any, spec: ToolSpec | None) -> None:
        """The engine's output observer: declared-untrusted outputs taint, the others vouch."""
        trusted = spec is None or spec.output_trust is Trust.TRUSTED
        self._record(action.context, action.tool, output, trusted=trusted, echo_of=action)

    def _record(
        self, ctx: Context, source: str, value: Any, *, trusted: bool, echo_of: Action | None = None
    ) -> int:
        """Record the entities (and with `untyped`, the word grams) of `value`; returns how many
        entities were recorded."""
        run = _run_key(ctx)
        if run is None:
            return 0
        leaves = [text for _, text in text_leaves(value)]
        entities, entity_texts = self._entities_of(leaves, trusted=trusted, echo_of=echo_of)
        injected = False
        if not trusted and (entities or self.untyped):
            from railguard.detect.injection import score_injection

            injected = any(
                score_injection(text).flagged for text in (leaves if self.untyped else entity_texts)
            )
        # In "injected" mode a clean untrusted output can never be the source of a text hit: skip
        # indexing it (most of the cost); trusted outputs are still indexed, since they vouch.
        wanted = self.untyped is True or (self.untyped == "injected" and (trusted or injected))
        grams = self._grams_of(run, leaves, trusted=trusted, echo_of=echo_of) if wanted else set()
        if not entities and not grams:
            return 0
        source = source[:256]
        if entities:
            self._records.add(
                run,
                (
                    TaintRecord(key, e.kind, masked(e.kind, e.value), source, trusted, injected)
                    for key, e in entities.items()
                ),
            )
        if grams:
            self._text_records.add(
                run, (TaintRecord(k, "text", "", source, trusted, injected) for k in grams)
            )
        return len(entities)

    def _entities_of(
        self, leaves: list[str], *, trusted: bool, echo_of: Action | None
    ) -> tuple[dict[str, Entity], list[str]]:
        # A trusted tool that echoes its own arguments back ("note saved: ...") vouches for nothing:
        # otherwise it would launder a value the agent copied from untrusted content.
        echoed = set(_argument_entities(echo_of)) if trusted and echo_of is not None else set()
        entities: dict[str, Entity] = {}
        texts: list[str] = []
        for text in leaves:
            found = extract_entities(text)
            if found:
                texts.append(text)
                for entity in found:
                    key = entity_key(entity.kind, entity.value)
                    if key not in echoed:
                        entities.setdefault(key, entity)
        return entities, texts

    def _grams_of(self, run: str, leaves: list[str], *, trusted: bool, echo_of: Action | None) -> set[str]:
        grams: set[str] = set()
        for text in leaves:
            grams |= gram_keys(run, words(text))
        if trusted and echo_of is not None:  # the same laundering rule as for entities
            for _, text in text_leaves(dict(echo_of.args)):
                grams -= gram_keys(run, words(text))
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
        values = argument_values(run, dict(action.args))
        if not values:
            return []
        wanted = [key for value in values for key in value.keys]
        known = {r.entity: r for r in self._text_records.lookup(run, wanted)}
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
        if not self.is_acting(action.tool, spec):
            return []
        tainted = self.tainted_values(action)
        if not tainted:
            return []
        hits: list[RuleHit] = []
        injected = [t for t in tainted if t.injected]
        if injected:
            hits.append(self._hit(INJECTED_RULE, self.injected_verdict, Severity.HIGH, mode, injected))
        plain = [t for t in tainted if not t.injected]
        if plain:
            hits.append(self._hit(UNTRUSTED_RULE, self.verdict, Severity.MEDIUM, mode, plain))
        return hits

    def __call__(self, action: Action, facts: Facts) -> list[RuleHit]:
        if facts.provisional is Verdict.BLOCK:
            return []  # already stopped: spare the lookup
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


def _argument_entities(action: Action) -> dict[str, tuple[str, Entity]]:
    """Entity digest -> (argument path, entity) for the arguments of `action`."""
    where: dict[str, tuple[str, Entity]] = {}
    for argument, text in text_leaves(dict(action.args)):
        for entity in extract_entities(text):
            where.setdefault(entity_key(entity.kind, entity.value), (argument, entity))
    return where


def _untrusted_sighting(value: TextValue, known: dict[str, TaintRecord]) -> TaintRecord | None:
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
    )
    engine.add_step(provenance, stage="guards", name="provenance")
    engine.observe_output(provenance.observe)
    return provenance

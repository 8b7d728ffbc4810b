"""Work provenance holds back until it can matter gives the answers doing it at once would.

In one process an output's entities are extracted only when a lookup in a run holding untrusted
ones can see them (`MemoryRecords.add_later`), a trusted output's word grams are indexed only when
a lookup can use them (`MemoryGrams.add_trusted`), in-process gram keys are built from smaller ones, and `words` reads
words without a regex match per word.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from railguard.engine import Engine
from railguard.model import Action, Context, Verdict
from railguard.state._provenance_records import MemoryRecords, TaintRecord
from railguard.state._provenance_text import (
    MAX_WORDS,
    PHRASE_WORDS,
    SPAN_WORDS,
    GramSighting,
    MemoryGrams,
    _fast_key,
    fast_gram_keys,
    regex_words,
    words,
)
from railguard.state.provenance import Provenance, install_provenance
from railguard.store import open_store

RUN = Context(tenant="acme", run="deferred")
POLICY = """
version: 1
tools:
  read_email: {effect: read, output_trust: untrusted}
  get_contacts: {effect: read, output_trust: trusted}
  save_note: {effect: write, output_trust: trusted}
  send_email: {effect: irreversible}
"""

# -- words ----------------------------------------------------------------------------------------

# ASCII separators and letters, non-ASCII letters, digits, marks and separators (curly quotes,
# dashes, no-break and line separators), case folding that changes length, a lone surrogate.
_ALPHABET = (
    "aZ9_ .,-'\n\t\u00e9\u00df\u0130\u0663\u00b2\u0301\uff21\u2019\u201c\u2014\u00a0\u2028\U0001f600\ud800"
)


@given(st.text(alphabet=st.sampled_from(_ALPHABET), max_size=80) | st.text(max_size=80))
def test_words_reads_exactly_what_the_regex_reads(text: str) -> None:
    assert words(text) == re.findall(r"\w+", text.casefold())[:MAX_WORDS] == regex_words(text)


def test_words_with_many_distinct_separators_still_reads_the_same() -> None:
    text = " ".join(f"w{index}{chr(0x2190 + index)}x" for index in range(40))  # 40 arrows: not words
    assert words(text) == regex_words(text)
    assert words(text)[:3] == ["w0", "x", "w1"]


# -- gram keys ------------------------------------------------------------------------------------


@given(st.lists(st.sampled_from(["a", "b", "c", "hotel", "paris", "7"]), max_size=20))
def test_gram_keys_of_a_text_are_the_keys_of_each_of_its_grams(tokens: list[str]) -> None:
    sizes = [*range(1, PHRASE_WORDS + 1), SPAN_WORDS]
    each = {_fast_key(tokens[i : i + n]) for n in sizes for i in range(len(tokens) - n + 1)}
    assert fast_gram_keys(tokens) == each


def test_gram_keys_tell_grams_apart() -> None:
    tokens = words("the quick brown fox jumps over the lazy dog and the quick red fox")
    grams = {tuple(tokens[i : i + n]) for n in (1, 2, 3, 8) for i in range(len(tokens) - n + 1)}
    assert len({_fast_key(list(gram)) for gram in grams}) == len(grams) == len(fast_gram_keys(tokens))


# -- grams ----------------------------------------------------------------------------------------


class _EagerGrams:
    """The index as it was: every trusted text indexed as it comes (the reference for `MemoryGrams`)."""

    def __init__(self, max_per_run: int) -> None:
        self.max_per_run = max_per_run
        self.trusted: dict[str, set[int]] = {}
        self.untrusted: dict[str, dict[int, int]] = {}
        self.injected: dict[str, set[int]] = {}
        self.sources: dict[str, list[str]] = {}

    def add_trusted(self, run: str, texts: list[str], echoed: list[str]) -> None:
        keys: set[int] = set()
        for text in texts:
            keys |= fast_gram_keys(words(text))
        for text in echoed:
            keys -= fast_gram_keys(words(text))
        trusted = self.trusted.setdefault(run, set())
        if len(trusted) < self.max_per_run:
            trusted |= keys

    def add(self, run: str, keys: set[int], source: str, injected: bool) -> None:
        untrusted = self.untrusted.setdefault(run, {})
        sources = self.sources.setdefault(run, [])
        if len(untrusted) < self.max_per_run:
            sources.append(source)
            untrusted.update(dict.fromkeys(keys.difference(untrusted), len(sources) - 1))
        marked = self.injected.setdefault(run, set())
        if injected and len(marked) < self.max_per_run:
            marked |= keys

    def lookup(self, run: str, keys: list[int]) -> list[GramSighting]:
        untrusted, trusted = self.untrusted.get(run, {}), self.trusted.get(run, set())
        out = []
        for key in keys:
            index = untrusted.get(key)
            if index is None and key not in trusted:
                continue
            source = self.sources[run][index] if index is not None else "user"
            out.append(GramSighting(key, source, key in trusted, key in self.injected.get(run, set())))
        return out


_GRAM_TEXTS = st.lists(st.sampled_from(["a b", "b c d", "hotel paris", "c d e f g h i j", "a"]), max_size=3)
_GRAM_OPS = st.lists(
    st.tuples(
        st.sampled_from(["trusted", "untrusted", "injected"]),
        st.sampled_from(["r1", "r2"]),
        _GRAM_TEXTS,
        _GRAM_TEXTS,  # a trusted output's call arguments (echoed), an untrusted output's source
    ),
    max_size=20,
)


@settings(max_examples=300)
@given(_GRAM_OPS, st.integers(1, 40), st.integers(0, 30))
def test_held_back_trusted_grams_answer_as_grams_indexed_as_they_come(
    ops: list[tuple[str, str, list[str], list[str]]], max_per_run: int, max_pending: int
) -> None:
    """Every lookup shows the same untrusted sightings, and in a run holding untrusted grams the same
    sightings, trusted ones included (same per-run cap, same arrival order)."""
    lazy = MemoryGrams(max_per_run=max_per_run, max_pending_chars=max_pending, max_pending_total=45)
    eager = _EagerGrams(max_per_run)
    probe = sorted(fast_gram_keys(words("a b c d e f g h i j hotel paris")))
    for kind, run, texts, other in ops:
        if kind == "trusted":
            lazy.add_trusted(run, texts, other)
            eager.add_trusted(run, texts, other)
        else:
            keys: set[int] = set()
            for text in texts:
                keys |= fast_gram_keys(words(text))
            source = " ".join(other)
            lazy.add(run, keys, source=source, trusted=False, injected=kind == "injected")
            eager.add(run, keys, source, kind == "injected")
        for each in ("r1", "r2"):
            want, got = eager.lookup(each, probe), lazy.lookup(each, probe)
            assert [s for s in got if not s.trusted] == [s for s in want if not s.trusted]
            if eager.untrusted.get(each):
                assert got == want


# -- records --------------------------------------------------------------------------------------

_OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["lazy", "lazy-untrusted", "lazy-injected", "trusted", "untrusted", "injected", "pointer"]
        ),
        st.sampled_from(["r1", "r2", "r3"]),
        st.lists(st.sampled_from("abcdefg"), max_size=4),
        st.sampled_from(["s1", "s2"]),
    ),
    max_size=25,
)
_POINTERS = ["pa", "pb", "pc"]  # user pointers: digests no typed value's digest equals


@settings(max_examples=300)
@given(_OPS, st.integers(1, 8), st.integers(1, 3), st.integers(0, 30), st.integers(0, 60))
def test_deferred_records_answer_as_eager_ones(
    ops: list[tuple[str, str, list[str], str]],
    max_per_run: int,
    max_runs: int,
    max_pending: int,
    max_total: int,
) -> None:
    """Lazy records (trusted or not): whatever an untrusted record can show is the same at every
    step, a run holding an untrusted record holds exactly the records made eagerly (same cap, same
    order), and the pointers found among the records made so far are the eager ones."""
    lazy = MemoryRecords(
        max_runs=max_runs, max_per_run=max_per_run, max_pending_chars=max_pending, max_pending_total=max_total
    )
    eager = MemoryRecords(max_runs=max_runs, max_per_run=max_per_run)
    for kind, run, entities, source in ops:
        trusted = kind in ("lazy", "trusted", "pointer")
        if kind == "pointer":
            records = [TaintRecord(f"p{e}", "pointer", "", "user", True, False) for e in entities]
        else:
            records = [
                TaintRecord(e, "email", e, source, trusted, kind.endswith("injected")) for e in entities
            ]
        eager.add(run, records)
        if kind.startswith("lazy"):
            lazy.add_later(run, lambda made=records: made, len(entities), untrusted=not trusted)
        else:
            lazy.add(run, records)
        for each in ("r1", "r2", "r3"):
            assert lazy.lookup_made(each, _POINTERS) == eager.lookup(each, _POINTERS)
            want, got = eager.lookup(each, "abcdefg"), lazy.lookup(each, "abcdefg")
            assert [r for r in got if not r.trusted] == [r for r in want if not r.trusted]
            if any(not r.trusted for r in want):
                assert got == want


def test_deferred_records_are_made_at_once_past_the_pending_bound() -> None:
    records = MemoryRecords(max_pending_chars=10)
    made: list[str] = []

    def make(name: str) -> list[TaintRecord]:
        made.append(name)
        return [TaintRecord(name, "email", name, "tool", True, False)]

    records.add_later("r", lambda: make("a"), 6, untrusted=False)
    assert made == [] and records.lookup("r", ["a"]) == []
    records.add_later("r", lambda: make("b"), 6, untrusted=False)  # 12 characters held: past the bound
    assert made == ["a", "b"] and [r.entity for r in records.lookup("r", ["a", "b"])] == ["a", "b"]


def test_held_back_text_stays_bounded_across_runs_and_forgotten_runs_release_theirs() -> None:
    records = MemoryRecords(max_runs=2, max_pending_total=10)
    made: list[str] = []

    def make(name: str) -> list[TaintRecord]:
        made.append(name)
        return []

    records.add_later("r1", lambda: make("r1"), 6, untrusted=False)
    records.add_later("r2", lambda: make("r2"), 4, untrusted=False)
    records.add_later(
        "r3", lambda: make("r3"), 4, untrusted=False
    )  # r1 forgotten: its 6 characters no longer held
    assert made == []
    records.add_later("r3", lambda: make("r3 again"), 3, untrusted=False)  # 11 held in all: r3's are made now
    assert made == ["r3", "r3 again"]


# -- provenance -----------------------------------------------------------------------------------


def test_a_trusted_output_seen_before_any_untrusted_one_still_vouches() -> None:
    engine = Engine(text=POLICY)
    prov = install_provenance(engine, integrity="off")
    assert prov.record_output(Action("get_contacts", {}, context=RUN), "bob@partner.com") == 0  # held back
    prov.record_output(Action("read_email", {}, context=RUN), "From bob@partner.com and eve@evil.com")
    assert engine.check(Action("send_email", {"to": "bob@partner.com"}, context=RUN)).allowed
    assert engine.check(Action("send_email", {"to": "eve@evil.com"}, context=RUN)).verdict is Verdict.ASK


def test_a_held_back_trusted_echo_of_its_arguments_still_vouches_for_nothing() -> None:
    engine = Engine(text=POLICY)
    prov = install_provenance(engine, integrity="off")
    args = {"text": "eve@evil.com"}
    prov.record_output(
        Action("save_note", args, call_id="n1", context=RUN), "saved: eve@evil.com", trusted=True
    )
    args["text"] = "changed later"  # the call's arguments as they were when the output came count
    prov.record_output(Action("read_email", {}, context=RUN), "Write to eve@evil.com")
    assert engine.check(Action("send_email", {"to": "eve@evil.com"}, context=RUN)).verdict is Verdict.ASK


_VALUES = [
    "bob@partner.com",
    "eve@evil.com",
    "GB29 NWBK 6016 1331 9268 19",
    "+44 20 7946 0958",
    "evil.example",
]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.lists(st.sampled_from(_VALUES), max_size=3)), max_size=6))
def test_one_process_answers_as_a_store_that_records_everything_at_once(
    outputs: list[tuple[bool, list[str]]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'railguard.db'}")
        in_memory, in_store = Provenance(integrity="off"), Provenance(store, integrity="off")
        for number, (trusted, values) in enumerate(outputs):
            text = "Contacts: " + "; ".join(values)
            for prov in (in_memory, in_store):
                action = Action(
                    "get_contacts" if trusted else "read_email", {}, call_id=str(number), context=RUN
                )
                prov.record_output(action, text, trusted=trusted)
        for value in _VALUES:
            action = Action("send_email", {"to": value}, context=RUN)
            assert in_memory.tainted_values(action) == in_store.tainted_values(action)

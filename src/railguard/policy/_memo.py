"""The policy step's outcome, remembered per action for one compiled policy.

The rules of a policy are pure functions of the CEL variables they read, and those are pure
functions of the action: its tool, arguments and context (the detector facts read nothing else; the
shell, URL and injection detectors already remember their answers per text), the tool's spec and
the acting mode. So an action seen before under the same `CompiledPolicy` gets the same hits: a
stream or a session that repeats its commands skips the detectors, the CEL conversion and the rules.

Only what is exactly known is remembered: arguments made of plain JSON values (exact `dict` with
`str` keys, `list`, `str`, `int`, `float`, `bool`, None: `1` and `true`, `"1"` and `1` stay apart),
a context of plain strings, and an outcome without a failed detector, an evaluation error or a
rewrite (`modify` reads the CEL context afterwards).

The memo belongs to the policy's text: the source digest covers every file and pack the policy was
loaded from, in order, and compiling is a pure function of them, so engines built from the same text
in one process (a `railguard check` per stream, a reload that changed nothing) share it, and any
other text, a reload that changed a file included, gets a memo of its own. Specs are compared by
identity, so a tool declared in the policy or in code is remembered only for that one declaration.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from railguard.detect.facts import FACTS
from railguard.model import Action, Mode, RuleHit, ToolSpec

if TYPE_CHECKING:
    from collections.abc import Hashable

__all__ = ["OutcomeMemo", "memo_for", "memo_key", "pure_facts"]

MEMO_ENTRIES = 4096
MEMO_MAX_CHARS = 2048  # longer arguments are decided afresh: the memo stays small (<= ~8 MB a policy)
_MAX_DEPTH = 16
_SCALARS = frozenset({str, int, float, bool, type(None)})
# Key order kept: the detectors read arguments in order (two commands merge in that order).
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


# The built-in detectors, as shipped: a fact registered later (`register_fact`) or replaced may read
# anything, so a plan that reads one is never remembered.
_BUILT_IN = dict(FACTS)


def pure_facts(names: tuple[str, ...]) -> bool:
    """Whether every fact of `names` is a built-in detector (a pure function of the action)."""
    for name in names:
        found = FACTS.get(name)
        if found is None or found is not _BUILT_IN.get(name):
            return False
    return True


MEMO_POLICIES = 8  # policy texts remembered (the oldest's memo is dropped past this)
_by_digest: dict[str, OutcomeMemo] = {}
_by_digest_lock = threading.Lock()


def memo_for(digest: str) -> OutcomeMemo:
    """The memo of the policy text with this source digest."""
    with _by_digest_lock:
        memo = _by_digest.pop(digest, None) or OutcomeMemo()
        _by_digest[digest] = memo  # most recent last
        while len(_by_digest) > MEMO_POLICIES:
            del _by_digest[next(iter(_by_digest))]
        return memo


def _plain(value: Any, depth: int = 0) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth >= _MAX_DEPTH:
        return False
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str or (type(v) not in _SCALARS and not _plain(v, depth + 1)):
                return False
        return True
    if kind is list:
        return all(type(v) in _SCALARS or _plain(v, depth + 1) for v in value)
    return False


def memo_key(action: Action, mode: Mode, spec: ToolSpec | None) -> Hashable | None:
    """What the policy step's outcome depends on, or None when it is not exactly known."""
    args = action.args
    if type(action.tool) is not str or type(args) is not dict or not _plain(args):
        return None
    ctx = action.context
    scalars = (ctx.tenant, ctx.user, ctx.agent, ctx.session, ctx.run, ctx.env, ctx.workspace)
    for v in scalars:
        if v is not None and type(v) is not str:
            return None
    roles: Any = ctx.roles
    for role in roles:
        if type(role) is not str:
            return None
    labels: Mapping[Any, Any] = ctx.labels
    for k, v in labels.items():
        if type(k) is not str or type(v) is not str:
            return None
    encoded = _ENCODE(args)
    if len(encoded) > MEMO_MAX_CHARS:
        return None
    return (
        action.tool,
        mode,
        id(spec),  # the spec itself is kept with the outcome: an id is never reused while remembered
        encoded,
        scalars,
        tuple(roles),
        tuple(labels.items()),  # in order: a message may show them
    )


class OutcomeMemo:
    """Bounded: the oldest entries go first."""

    def __init__(self, entries: int = MEMO_ENTRIES) -> None:
        self._entries = entries
        # An OrderedDict drops its oldest entry in O(1); a dict's `next(iter(...))` walks the slots
        # its earlier deletions left empty, which made every eviction of a full memo slower.
        self._outcomes: OrderedDict[Hashable, tuple[ToolSpec | None, tuple[RuleHit, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, spec: ToolSpec | None) -> tuple[RuleHit, ...] | None:
        found = self._outcomes.get(key)
        if found is None or found[0] is not spec:
            return None
        return found[1]

    def put(self, key: Hashable, spec: ToolSpec | None, hits: tuple[RuleHit, ...]) -> None:
        with self._lock:
            self._outcomes[key] = (spec, hits)
            while len(self._outcomes) > self._entries:
                self._outcomes.popitem(last=False)

    def __len__(self) -> int:
        return len(self._outcomes)

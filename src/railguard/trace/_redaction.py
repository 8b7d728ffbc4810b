"""What leaves the process: every string value scanned for secrets and personal data, replaced by
`[redacted:<kind>]`; identifiers of people hashed with a per-deployment salt; a list of what was
redacted where (keys and kinds only, never values)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from railguard.detect.redact import ALL_KINDS, redact
from railguard.trace._keys import HASHED_KEYS, SAFE_KEYS

SALT_ENV = "RAILGUARD_TRACE_SALT"
_TRUNCATION_MARK = "...[truncated]"
# Integers this large may be card numbers or account ids; smaller ones are counts and sizes.
_SCANNED_INT_MIN = 10**6
# Short values found clean before (model and tool names, span kinds, statuses, ids repeated on every
# span) are not scanned again. Only values with no finding are remembered, so no secret is kept here.
_MEMO_MAX_CHARS = 256
_MEMO_SIZE = 8192
_CLEAN_TEXTS: dict[frozenset[str] | None, set[str]] = {}  # per redaction kinds


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """How span attributes and decision records are cleaned before export.

    `kinds`: detector kinds to redact (None: every secret and PII kind). `safe_keys`: attribute keys
    never scanned (enums, hashes, counts Railguard sets; caller-given ids and model names are scanned). `hash_keys`: attribute keys whose value is
    replaced by `hash:<16 hex>` (HMAC-SHA256 with `salt`) so one user's runs still correlate.
    `salt`: per deployment, from the argument, else $RAILGUARD_TRACE_SALT, else random per process
    (then hashes only correlate within one process). `max_value_chars`: longer strings are cut
    AFTER redaction (cutting first could split a secret so that the detector misses its head)."""

    kinds: frozenset[str] | None = None
    safe_keys: frozenset[str] = SAFE_KEYS
    hash_keys: frozenset[str] = HASHED_KEYS
    salt: bytes = field(default=b"", repr=False)
    max_value_chars: int = 16_384

    def __post_init__(self) -> None:
        if self.kinds is not None:
            unknown = set(self.kinds) - ALL_KINDS
            if unknown:
                raise ValueError(f"unknown redaction kind(s) {sorted(unknown)}; known: {sorted(ALL_KINDS)}")
        if not self.salt:
            env = os.environ.get(SALT_ENV, "")
            object.__setattr__(self, "salt", env.encode() if env else os.urandom(16))

    @classmethod
    def build(
        cls,
        *,
        kinds: Collection[str] | None = None,
        extra_safe_keys: Collection[str] = (),
        hash_keys: Collection[str] | None = None,
        salt: str | bytes | None = None,
        max_value_chars: int = 16_384,
    ) -> RedactionPolicy:
        """The defaults plus your own safe keys; `hash_keys=()` turns hashing off."""
        return cls(
            kinds=None if kinds is None else frozenset(kinds),
            safe_keys=SAFE_KEYS | frozenset(extra_safe_keys),
            hash_keys=HASHED_KEYS if hash_keys is None else frozenset(hash_keys),
            salt=salt.encode() if isinstance(salt, str) else (salt or b""),
            max_value_chars=max_value_chars,
        )

    def hash_identifier(self, value: str) -> str:
        digest = hmac.new(self.salt, value.encode(), hashlib.sha256).hexdigest()
        return f"hash:{digest[:16]}"


class Redactor:
    """Applies one policy; `hits` collects `where:kind` entries for the `railguard.redacted` record."""

    __slots__ = ("_clean", "_kinds", "_short", "hits", "policy")

    def __init__(self, policy: RedactionPolicy) -> None:
        self.policy = policy
        self._kinds = policy.kinds
        self._clean = _CLEAN_TEXTS.setdefault(policy.kinds, set())
        self._short = min(_MEMO_MAX_CHARS, policy.max_value_chars)  # a remembered text is never cut
        self.hits: list[str] = []

    def attributes(self, attributes: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
        """A cleaned copy of an attribute mapping (span, event, link or resource attributes)."""
        if not attributes:
            return {}
        policy = self.policy
        clean, short = self._clean, self._short
        out: dict[str, Any] = {}
        for key, value in attributes.items():
            if key in policy.safe_keys:
                out[key] = value
            elif (
                type(value) is str and len(value) <= short and value in clean and key not in policy.hash_keys
            ):
                out[key] = value  # what `text` returns for a text found clean before, without the call
            elif key in policy.hash_keys and isinstance(value, str):
                out[key] = policy.hash_identifier(value)
            else:
                out[key] = self.value(value, prefix + key)
        return out

    def value(self, value: Any, where: str) -> Any:
        if isinstance(value, str):
            return self.text(value, where)
        if isinstance(value, bool | float):
            return value
        if isinstance(value, int):
            if abs(value) < _SCANNED_INT_MIN:
                return value
            cleaned = self.text(str(value), where)
            return value if cleaned == str(value) else cleaned
        if isinstance(value, bytes):
            return self._bytes(value, where)
        if isinstance(value, Mapping):
            return {k: self.value(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, Sequence):
            return tuple(self.value(item, where) for item in value)
        return value

    def text(self, text: str, where: str) -> str:
        memo = len(text) <= _MEMO_MAX_CHARS
        if memo and text in self._clean:
            cleaned = text
        else:
            before = len(self.hits)
            cleaned = self._scan(self._decoded_json(text, where), where)
            if memo and len(self.hits) == before and cleaned == text:
                if len(self._clean) >= _MEMO_SIZE:
                    self._clean.clear()
                self._clean.add(text)
        limit = self.policy.max_value_chars
        if len(cleaned) > limit:
            cleaned = cleaned[:limit] + _TRUNCATION_MARK
        return cleaned

    def _scan(self, text: str, where: str) -> str:
        result = redact(text, self._kinds)
        if result.findings:
            self.hits.extend(f"{where}:{kind}" for kind in dict.fromkeys(f.kind for f in result.findings))
        return result.text

    def _decoded_json(self, text: str, where: str) -> str:
        """JSON text (tool arguments and results, messages) cleaned value by value. Escaping hides context the
        detectors key on: `{"private_key_id": "..."}` inside a JSON string reads `{\\"private_key_id\\"...`.
        The re-encoded text is then scanned whole as well (a secret named by its key)."""
        if text.lstrip()[:1] not in ("{", "[", '"'):
            return text
        try:
            decoded = json.loads(text)
        except (ValueError, RecursionError):
            return text
        if not isinstance(decoded, dict | list | str):
            return text
        before = len(self.hits)
        cleaned = self.value(decoded, where)
        return text if len(self.hits) == before else json.dumps(cleaned, ensure_ascii=False)

    def _bytes(self, value: bytes, where: str) -> Any:
        try:
            decoded = value.decode("utf-8")
        except UnicodeDecodeError:
            return value  # opaque binary: nothing a text detector can read
        cleaned = self.text(decoded, where)
        return value if cleaned == decoded else cleaned

    def record(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.hits))


def redact_decision_record(record: Mapping[str, Any], policy: RedactionPolicy) -> dict[str, Any]:
    """A DecisionV1 record (Decision.to_record()) with everything the caller supplied cleaned: args,
    reason, rule messages, error, the tool name and call id, context ids and labels; the user id
    hashed. Railguard's own values (decision id, verdicts, rule ids, revision) are kept."""
    redactor = Redactor(policy)
    out = dict(record)
    for key in ("args", "action_args"):
        if out.get(key) is not None:
            out[key] = redactor.value(out[key], key)
    for key in ("reason", "error", "tool", "call_id"):
        if isinstance(out.get(key), str):
            out[key] = redactor.text(out[key], key)
    out["hits"] = [
        {**hit, "message": redactor.text(str(hit.get("message", "")), "hits.message")}
        for hit in out.get("hits") or ()
    ]
    context = dict(out.get("context") or {})
    for key in ("tenant", "agent", "session", "run", "env", "workspace"):
        if isinstance(context.get(key), str):
            context[key] = redactor.text(context[key], f"context.{key}")
    if isinstance(context.get("user"), str):
        context["user"] = (
            policy.hash_identifier(context["user"])
            if policy.hash_keys
            else redactor.text(context["user"], "context.user")
        )
    if context.get("labels"):
        context["labels"] = redactor.value(context["labels"], "context.labels")
    out["context"] = context
    # What was masked, where: OPA's decision-log `masked` list (paths and kinds, never values).
    out["masked"] = [{"path": w, "kind": k} for w, _, k in (hit.rpartition(":") for hit in redactor.hits)]
    return out

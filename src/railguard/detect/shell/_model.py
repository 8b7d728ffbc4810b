"""The shell analyzer's result types: public, frozen, JSON-able through `to_fact()`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VERDICT_RANK = {"allow": 0, "ask": 1, "block": 2}
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
# Secrets whose mere reading is blocked (outside the workspace): keys and password stores.
BLOCK_SECRET_KINDS = frozenset({"ssh_key", "private_key", "shadow", "gpg_private", "browser_store", "keychain",
                                "password_store", "ssh_dir"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    """One simple command that would execute. `via` lists the wrappers it was unwrapped from
    (`sudo`, `bash -c`, `xargs`, `$()` ...), outermost first."""

    name: str
    argv: tuple[str, ...]
    flags: tuple[str, ...]
    via: tuple[str, ...] = ()

    def to_fact(self) -> dict[str, Any]:
        return {"name": self.name, "argv": list(self.argv), "flags": list(self.flags), "via": list(self.via)}


@dataclass(frozen=True, slots=True)
class ShellFinding:
    category: str
    rule: str
    verdict: str  # allow | ask | block
    severity: str  # low | medium | high | critical
    detail: str  # human text; never contains secret values, only paths/kinds

    def to_fact(self) -> dict[str, str]:
        return {
            "category": self.category,
            "rule": self.rule,
            "verdict": self.verdict,
            "severity": self.severity,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class ShellAnalysis:
    commands: tuple[SimpleCommand, ...]
    findings: tuple[ShellFinding, ...]
    unparsed: bool
    verdict: str
    paths: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.category for f in self.findings))

    @property
    def summary(self) -> str:
        """One human line: the worst finding, or what runs."""
        worst = worst_finding(self.findings)
        if worst is not None:
            return f"{worst.detail} ({worst.category})"
        names = ", ".join(dict.fromkeys(c.name for c in self.commands)) or "nothing"
        return f"runs {names}"

    def to_fact(self, *, present: bool | None = None) -> dict[str, Any]:
        """The CEL variable `shell`; with `present`, that key too (last, as the fact adds it)."""
        commands, findings = self.commands, self.findings
        fact = {
            "commands": [c.to_fact() for c in commands],
            "names": list(dict.fromkeys([c.name for c in commands])),
            "findings": [f.to_fact() for f in findings],
            "categories": list(dict.fromkeys([f.category for f in findings])),
            "verdict": self.verdict,
            "unparsed": self.unparsed,
            "paths": list(self.paths),
            "urls": list(self.urls),
            "summary": self.summary,
        }
        if present is not None:
            fact["present"] = present
        return fact


def worst_finding(findings: tuple[ShellFinding, ...]) -> ShellFinding | None:
    if not findings:
        return None
    return max(findings, key=lambda f: (VERDICT_RANK[f.verdict], SEVERITY_RANK[f.severity]))


def strictest_verdict(findings: tuple[ShellFinding, ...], unparsed: bool) -> str:
    rank = max((VERDICT_RANK[f.verdict] for f in findings), default=0)
    if unparsed:
        rank = max(rank, VERDICT_RANK["ask"])
    return ("allow", "ask", "block")[rank]

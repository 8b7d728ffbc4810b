"""Least privilege: what the acting user (not the agent) may do, from the policy's `entitlements:`.

The section compiles into one deny-by-default rule, `entitlements/not-entitled`, over every tool a grant
names; the engine checks it on every call against `ctx.user` and `ctx.roles` (see docs/approvals.md).
This module answers the question before any call: which tools may this user's agent be offered at
all? Hiding the others from the model stops it planning with tools it will be refused.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from railguard.model import Context
from railguard.policy import CompiledPolicy
from railguard.policy._schema import ENTITLEMENTS_RULE, EntitlementsSpec, Grant

__all__ = ["ENTITLEMENTS_RULE", "entitlements_of", "grants_for", "permitted_tools"]


def entitlements_of(policy: CompiledPolicy) -> EntitlementsSpec | None:
    """The policy's entitlements, or None when it has none (or the rule is disabled)."""
    rule = policy.rule(ENTITLEMENTS_RULE)
    return rule.spec.entitlements if rule is not None else None


def permitted_tools(policy: CompiledPolicy, context: Context, tools: Iterable[str]) -> list[str]:
    """The tools of `tools` that `context`'s user may call with some arguments: tools no grant names
    are not governed by entitlements and stay; a grant's `when` is checked per call, not here."""
    spec = entitlements_of(policy)
    names = list(tools)
    if spec is None:
        return names
    covered, mine = spec.covered_tools, grants_for(spec, context)
    return [t for t in names if not _named(t, covered) or any(_named(t, g.tools) for g in mine)]


def _named(tool: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(tool, p) for p in patterns)


def grants_for(spec: EntitlementsSpec, context: Context) -> tuple[Grant, ...]:
    """Every grant that applies to the acting user: their roles' and their own."""
    mine = [g for role in context.roles for g in spec.roles.get(role, ())]
    if context.user:
        mine.extend(spec.users.get(context.user, ()))
    return tuple(mine)

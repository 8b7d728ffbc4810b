"""Policy uploads: validated like `railguard policy validate` (the same file:line errors), stored
as revisions of the caller's tenant, activated, rolled back. An upload may include built-in packs
only: a path in `include:` would read the server's own files."""

from __future__ import annotations

from typing import Any

import yaml

from railguard.errors import PolicyError
from railguard.policy import load_policy
from railguard.server._engines import TenantEngines
from railguard.store import PolicyRevision, PolicyRevisions

MAX_POLICY_BYTES = 1024 * 1024


class InvalidPolicy(ValueError):
    """400: what is wrong, where (line), how to fix it."""


def _includes(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        value = node.get("include")
        if isinstance(value, list):
            found.extend(str(v) for v in value)
        elif value is not None:
            found.append(str(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_includes(item))
    return found


def validate(content: str) -> tuple[str, int]:
    """(compiled revision name, rule count) or InvalidPolicy with the loader's file:line message."""
    if len(content.encode()) > MAX_POLICY_BYTES:
        raise InvalidPolicy(f"the policy is larger than {MAX_POLICY_BYTES} bytes")
    try:
        parsed = yaml.safe_load(content)
    except yaml.YAMLError:
        parsed = None  # the loader below reports it with its line
    local = [name for name in _includes(parsed) if not name.startswith("pack:")]
    if local:
        raise InvalidPolicy(
            f"<upload>: include {local[0][:80]!r} is a file on the server; an uploaded policy may include "
            "built-in packs only (include: [pack:NAME]); paste the file's rules into the upload instead"
        )
    try:
        compiled = load_policy(text=content)
    except PolicyError as err:
        raise InvalidPolicy(str(err)) from None
    return compiled.revision, len(compiled.rules)


def upload(revisions: PolicyRevisions, *, tenant: str, content: str, author: str) -> PolicyRevision:
    policy_revision, rules = validate(content)
    return revisions.add(
        tenant=tenant, content=content, author=author, policy_revision=policy_revision, rules=rules
    )


def apply_now(engines: TenantEngines) -> None:
    """This replica applies an activation at once; the others on their next refresh (< 1 s)."""
    engines.refresh()


def activate(engines: TenantEngines, *, tenant: str, rev: int, actor: str, mode: str) -> PolicyRevision:
    done = engines.revisions.activate(tenant=tenant, rev=rev, actor=actor, mode=mode)
    apply_now(engines)
    return done


def rollback(engines: TenantEngines, *, tenant: str, actor: str) -> PolicyRevision:
    done = engines.revisions.rollback(tenant=tenant, actor=actor)
    apply_now(engines)
    return done

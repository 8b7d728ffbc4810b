"""Policy patches: the YAML a proposal adds, merged into a policy text or file, compiled with the real
compiler and checked with the real policy test runner.

A patch is a policy document of its own: `rules:` items (a new rule, or an included rule restated
with its change: later definitions win), `tools:` declarations (restated whole), `budgets:` /
`limits:` entries (matched by `name`) or a `loops:` section. Merging follows the loader's rules, so
the merged text compiles to the same policy as base + patch loaded one after the other.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from railguard.errors import PolicyError
from railguard.model import Mode
from railguard.policy import CompiledPolicy, load_policy
from railguard.policy._schema import RuleSpec, ToolDecl
from railguard.policy.testing import CaseResult, Status, run_test_file


@dataclass(frozen=True, slots=True)
class BasePolicy:
    """The policy a proposal changes: a stored revision's text, or policy files (and packs)."""

    paths: tuple[str, ...] = ()
    text: str | None = None
    packs: tuple[str, ...] = ()
    revision: int | None = None  # the stored revision `text` came from
    label: str = field(default="")

    def describe(self) -> str:
        if self.label:
            return self.label
        if self.revision is not None:
            return f"revision r{self.revision}"
        return ", ".join(self.paths) or ", ".join(f"pack:{p}" for p in self.packs) or "(none)"

    @contextmanager
    def files(self, patch: str | None = None) -> Iterator[list[str]]:
        """The policy's files (a stored text written to a temporary file), then the patch's."""
        with tempfile.TemporaryDirectory(prefix="railguard-proposal-") as folder:
            out = [str(Path(p).resolve()) for p in self.paths]
            if self.text is not None:
                out.append(_write(Path(folder) / "base.yaml", self.text))
            if patch is not None:
                out.append(_write(Path(folder) / "proposal.yaml", patch))
            yield out

    def compile(self, patch: str | None = None) -> CompiledPolicy:
        with self.files(patch) as paths:
            return load_policy(paths, packs=list(self.packs) or None)


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def rule_dict(rule: RuleSpec, **changes: Any) -> dict[str, Any]:
    """A rule restated as policy YAML data (with `changes` applied): a later definition replaces it."""
    if rule.modify is not None or rule.entitlements is not None:
        raise PolicyError(
            f"rule '{rule.id}' rewrites arguments or is an entitlements rule: it is not restated automatically",
            fix="edit the rule by hand",
        )
    out: dict[str, Any] = {"rule": rule.id}
    if rule.desc:
        out["desc"] = rule.desc
    if rule.tools:
        out["tools"] = list(rule.tools)
    if rule.when is not None:
        out["when"] = rule.when
    out["verdict"] = rule.verdict.value
    if rule.message:
        out["message"] = rule.message
    out["severity"] = rule.severity.value
    if rule.tags:
        out["tags"] = list(rule.tags)
    if rule.mode is not None:
        out["mode"] = rule.mode.value
    if not rule.enabled:
        out["enabled"] = False
    if rule.exceptions:
        out["exceptions"] = [{"name": e.name, "when": e.when} for e in rule.exceptions]
    if rule.approval is not None:
        approval: dict[str, Any] = {"scope": rule.approval.scope}
        if rule.approval.ttl_s is not None:
            approval["ttl"] = f"{rule.approval.ttl_s:g}s"
        if rule.approval.match is not None:
            approval["match"] = rule.approval.match
        out["approval"] = approval
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def tool_dict(decl: ToolDecl | None, **changes: Any) -> dict[str, Any]:
    """A tool declaration restated whole (a later declaration replaces the earlier one)."""
    out: dict[str, Any] = {}
    if decl is not None:
        out["effect"] = decl.effect.value
        out["output_trust"] = decl.output_trust.value
        if decl.untrusted_fields:
            out["untrusted_fields"] = list(decl.untrusted_fields)
        if decl.args_schema is not None:
            out["args"] = dict(decl.args_schema)
        if decl.output_schema is not None:
            out["output"] = dict(decl.output_schema)
        if decl.roles:
            out["roles"] = dict(decl.roles)
        if decl.description:
            out["description"] = decl.description
    out.update(changes)
    if out.get("effect") == "unknown":
        out.pop("effect")
    return out


def find_rule(policy: CompiledPolicy, rule_id: str) -> RuleSpec | None:
    for item in policy.source.items:
        if isinstance(item, RuleSpec) and item.id == rule_id:
            return item
    return None


def rule_mode(policy: CompiledPolicy, rule: RuleSpec) -> Mode:
    return rule.mode or policy.mode


# -- merging ---------------------------------------------------------------------------------------


def _item_key(item: Any) -> tuple[str, str] | None:
    if isinstance(item, Mapping):
        for kind in ("rule", "list", "macro"):
            if kind in item:
                return kind, str(item[kind])
    return None


def merge_documents(base: Any, patch: Mapping[str, Any]) -> dict[str, Any]:
    """`base` (a policy document: mapping or bare list) with the patch's items merged in place."""
    if base is None:
        base = {}
    if isinstance(base, list):
        base = {"rules": base}
    if not isinstance(base, Mapping):
        raise PolicyError("the policy file is not a mapping or a list of items", fix="fix the file first")
    out = dict(base)
    if patch.get("rules"):
        rules = list(out.get("rules") or [])
        where = {_item_key(item): i for i, item in enumerate(rules)}
        for item in patch["rules"]:
            key = _item_key(item)
            if key in where:
                rules[where[key]] = item
            else:
                where[key] = len(rules)
                rules.append(item)
        out["rules"] = rules
    if patch.get("tools"):
        tools = dict(out.get("tools") or {})
        tools.update(patch["tools"])
        out["tools"] = tools
    for section in ("budgets", "limits"):
        if patch.get(section):
            entries = list(out.get(section) or [])
            named = {
                e.get("name"): i for i, e in enumerate(entries) if isinstance(e, Mapping) and e.get("name")
            }
            for entry in patch[section]:
                if entry.get("name") in named:
                    entries[named[entry["name"]]] = entry
                else:
                    entries.append(entry)
            out[section] = entries
    if patch.get("loops") is not None:
        out["loops"] = patch["loops"]
    return out


def merge_text(base_text: str | None, patch_text: str) -> str:
    patch = yaml.safe_load(patch_text) or {}
    base = yaml.safe_load(base_text) if base_text else None
    return dump(merge_documents(base, patch))


def write_into_file(path: Path, patch_text: str, *, base: BasePolicy | None = None) -> str:
    """Merge the patch into the policy file at `path` (created when missing), atomically (a watching
    engine never reads half a file), and check the result still loads. Returns the new text."""
    before = path.read_text(encoding="utf-8") if path.exists() else None
    merged = merge_text(before, patch_text)
    header = "# Accepted proposals are merged into this file by `railguard proposals accept --to`.\n"
    if before is None or not before.startswith(header):
        merged = header + merged
    others = [p for p in (base.paths if base else ()) if Path(p).resolve() != path.resolve()]
    with tempfile.TemporaryDirectory(prefix="railguard-accept-") as folder:
        trial = Path(folder) / path.name
        trial.write_text(merged, encoding="utf-8")
        load_policy([*others, str(trial)], packs=list(base.packs) if base and base.packs else None)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(merged, encoding="utf-8")
    os.replace(tmp, path)
    return merged


# -- the generated unit tests ----------------------------------------------------------------------


def case(name: str, tool: str, args: Mapping[str, Any], context: Mapping[str, Any], expect: str,
         rule: str | None = None) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {
        "name": name,
        "action": {"tool": tool, "args": dict(args), "context": {k: v for k, v in context.items() if v}},
        "expect": expect,
    }
    if rule is not None:
        out["rule"] = rule
    return out


def run_cases(base: BasePolicy, patch: str, cases: Sequence[Mapping[str, Any]]) -> list[CaseResult]:
    """Run the cases against base + patch with `railguard test`'s runner (an empty list: nothing)."""
    if not cases:
        return []
    with base.files(patch) as paths, tempfile.TemporaryDirectory(prefix="railguard-cases-") as folder:
        test_file = Path(folder) / "proposal_test.yaml"
        doc: dict[str, Any] = {"policy": paths, "cases": list(cases)}
        if base.packs:
            doc["packs"] = list(base.packs)
        test_file.write_text(dump(doc), encoding="utf-8")
        return run_test_file(test_file)


def failures(results: Sequence[CaseResult]) -> list[str]:
    return [f"{r.name}: {r.message}" for r in results if r.status is not Status.PASS]

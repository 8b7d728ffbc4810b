"""Reading policy files and merging their includes (other files and built-in packs) into one source."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from railguard._digest import sha256
from railguard._package_data import list_names, read_bytes
from railguard.errors import PolicyError
from railguard.model import Mode, Verdict
from railguard.policy._cushions import CushionsSpec
from railguard.policy._schema import Item, ListSpec, MacroSpec, PolicyDoc, RuleSpec, ToolDecl, parse_document
from railguard.policy._yaml import load_yaml

PACK_PREFIX = "pack:"


def available_packs() -> list[str]:
    return sorted(
        name[: -len(".yaml")]
        for name in list_names("railguard.policy", "packs")
        if name.endswith(".yaml") and not name.endswith("_test.yaml")
    )


def pack_text(name: str) -> str:
    if name not in available_packs():
        raise PolicyError(
            f"unknown pack '{name}'",
            key="include",
            fix=f"available packs: {', '.join(available_packs())}",
        )
    return read_bytes("railguard.policy", "packs", f"{name}.yaml").decode("utf-8")


@dataclass(frozen=True, slots=True)
class PolicySource:
    """Every file of a policy, merged in include order: what the compiler turns into rules."""

    name: str
    version: str | None
    description: str
    mode: Mode
    on_error: Verdict | None
    deadline_ms: float
    items: tuple[Item, ...]
    tools: dict[str, ToolDecl]
    files: tuple[str, ...]  # real files on disk (watched for reload); packs are "pack:NAME"
    digest: str
    # budgets, limits, loops: configured here, run by railguard.state
    cushions: CushionsSpec = field(default_factory=CushionsSpec)

    @property
    def revision(self) -> str:
        return f"{self.name}@{self.version or '0'}#{self.digest[:12]}"


DEFAULT_DEADLINE_MS = 50.0


def load_source(
    paths: list[str] | None = None, packs: list[str] | None = None, text: str | None = None
) -> PolicySource:
    """Load policy files, packs and/or inline YAML text as one policy (later ones override earlier)."""
    loader = _Loader()
    docs: list[PolicyDoc] = []
    for pack in packs or []:
        docs.extend(loader.load(PACK_PREFIX + pack, None))
    for path in paths or []:
        docs.extend(loader.load(path, None))
    if text is not None:
        docs.extend(loader.parse("<inline>", text, None))
    if not docs:
        raise PolicyError("no policy given", fix="pass a policy file, a pack name, or policy text")
    root = docs[-1]
    named = [d for d in docs if d.name]
    name = root.name or (named[-1].name if named else None) or Path(root.file).stem
    return PolicySource(
        name=name or "policy",
        version=root.version,
        description=root.description,
        mode=root.mode or Mode.ENFORCE,
        on_error=root.on_error,
        deadline_ms=root.deadline_ms or DEFAULT_DEADLINE_MS,
        items=merge_items(docs),
        tools={t.name: t for d in docs for t in d.tools},
        files=tuple(loader.files),
        digest=loader.digest.hexdigest(),
        cushions=functools.reduce(lambda a, d: a.merged(d.cushions), docs, CushionsSpec()),
    )


class _Loader:
    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.files: list[str] = []
        self.digest = sha256()

    def load(self, ref: str, parent: tuple[str, int | None] | None) -> list[PolicyDoc]:
        if ref.startswith(PACK_PREFIX):
            key = ref
            try:
                text = pack_text(ref[len(PACK_PREFIX) :])
            except PolicyError as err:
                raise PolicyError(
                    err.message, file=parent[0] if parent else None, line=parent[1] if parent else None,
                    key="include", fix=err.fix,
                ) from None  # fmt: skip
        else:
            path = Path(ref)
            if parent and not path.is_absolute() and not parent[0].startswith(PACK_PREFIX):
                path = Path(parent[0]).parent / path
            key = str(path.resolve())
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as err:
                raise PolicyError(
                    f"cannot read policy file '{path}': {err.strerror or err}",
                    file=parent[0] if parent else str(path),
                    line=parent[1] if parent else None,
                    key="include" if parent else None,
                    fix="check the path (includes are relative to the including file)",
                ) from None
            self.files.append(key)
            ref = str(path)
        if key in self.seen:
            return []  # included twice (diamond) or a cycle: the first inclusion wins
        self.seen.add(key)
        return self.parse(ref, text, parent)

    def parse(self, file: str, text: str, parent: tuple[str, int | None] | None) -> list[PolicyDoc]:
        self.digest.update(file.encode() + b"\0" + text.encode() + b"\0")
        data = load_yaml(text, file)
        if data is None or data == [] or data == {}:
            # A policy that says nothing would allow everything; a truncated or mis-saved file must
            # not turn the guard off.
            raise PolicyError(
                "the policy file is empty (nothing but blank lines or comments), so it would allow everything",
                file=file,
                line=1,
                fix="add rules, or include a pack (e.g. 'include: [pack:coding-agent]'); "
                "to allow everything on purpose, write a rule that says so",
            )
        doc = parse_document(data, file)
        out: list[PolicyDoc] = []
        for include, line in doc.includes:
            out.extend(self.load(include, (file, line)))
        out.append(doc)
        return out


def merge_items(docs: list[PolicyDoc]) -> tuple[Item, ...]:
    """Later definitions win: a rule, macro or list with an existing name replaces it (lists may
    `append`); a rule item with only `enabled` toggles an earlier rule."""
    order: list[tuple[str, str]] = []
    by_key: dict[tuple[str, str], Item] = {}
    for doc in docs:
        for item in doc.items:
            key = (type(item).__name__, _item_name(item))
            previous = by_key.get(key)
            if isinstance(item, RuleSpec) and item.only_enabled:
                if not isinstance(previous, RuleSpec):
                    raise PolicyError(
                        f"rule '{item.id}' only sets 'enabled' but no earlier rule has that id",
                        file=item.loc.file,
                        line=item.loc.line,
                        key="rule",
                        fix="check the rule id against the included files and packs (railguard policy validate)",
                    )
                by_key[key] = _with_enabled(previous, item.enabled)
                continue
            if isinstance(item, ListSpec) and item.append:
                if not isinstance(previous, ListSpec):
                    raise PolicyError(
                        f"list '{item.name}' has 'append: true' but no earlier list has that name",
                        file=item.loc.file,
                        line=item.loc.line,
                        key="append",
                        fix="remove 'append' to define the list, or include the file that defines it first",
                    )
                item = ListSpec(item.name, previous.items + item.items, False, item.loc)
            if key not in by_key:
                order.append(key)
            by_key[key] = item
    return tuple(by_key[k] for k in order)


def _item_name(item: Item) -> str:
    if isinstance(item, RuleSpec):
        return item.id
    if isinstance(item, MacroSpec | ListSpec):
        return item.name
    raise TypeError(item)


def _with_enabled(rule: RuleSpec, enabled: bool) -> RuleSpec:
    from dataclasses import replace

    return replace(rule, enabled=enabled)

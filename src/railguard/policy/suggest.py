"""Tool declarations suggested from what a tool says about itself, for a person to confirm.

    suggestions = suggest_tools(json.load(open("tools.json")))   # MCP tools/list, or function schemas
    print(suggestions_yaml(suggestions))                         # a `tools:` section with the reasons

Provenance and run-level integrity need two facts per tool: its effect (does calling it change the
world?) and the trust of its output (can third parties write into what it returns?). Both are read
from the tool's name, description and MCP annotations; each suggestion says why. Unclear tools get
the cautious answer: acting (`write`) and `untrusted`.

Accepted inputs: an MCP `tools/list` result (`{"tools": [{"name", "description", "inputSchema",
"annotations"}]}`), a list of MCP tools, OpenAI function tools (`{"type": "function", "function":
{...}}`), Anthropic tools (`{"name", "description", "input_schema"}`), or plain `{"name",
"description"}` objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from railguard.errors import ConfigurationError
from railguard.model import Effect, Trust

__all__ = ["ToolSuggestion", "suggest_tools", "suggestions_yaml"]

# The leading verb of a tool's name decides its effect when the tool has no annotations.
_READ_VERBS = frozenset(
    [
        "get",
        "list",
        "search",
        "read",
        "find",
        "fetch",
        "query",
        "show",
        "describe",
        "view",
        "check",
        "lookup",
        "look",
        "count",
        "browse",
        "download",
        "inspect",
        "retrieve",
        "load",
        "print",
        "peek",
        "preview",
        "scan",
        "stat",
        "status",
        "summarize",
        "explain",
        "validate",
        "verify",
        "compare",
        "calculate",
        "compute",
        "estimate",
        "convert",
        "translate",
        "parse",
        "render",
        "watch",
    ]
)
_IRREVERSIBLE_VERBS = frozenset(
    [
        "delete",
        "remove",
        "drop",
        "destroy",
        "purge",
        "erase",
        "wipe",
        "truncate",
        "kill",
        "terminate",
        "pay",
        "transfer",
        "send",
        "wire",
        "refund",
        "charge",
        "withdraw",
        "cancel",
        "revoke",
        "unpublish",
        "publish",
        "deploy",
        "release",
        "merge",
    ]
)
_EXEC_VERBS = frozenset(["run", "exec", "execute", "eval", "shell", "spawn", "invoke", "call", "launch"])
_WRITE_VERBS = frozenset(
    [
        "create",
        "add",
        "update",
        "set",
        "write",
        "edit",
        "modify",
        "put",
        "post",
        "append",
        "insert",
        "upload",
        "save",
        "book",
        "reserve",
        "schedule",
        "invite",
        "share",
        "move",
        "rename",
        "copy",
        "change",
        "reset",
        "enable",
        "disable",
        "assign",
        "grant",
        "approve",
        "reply",
        "forward",
        "comment",
        "mark",
        "archive",
        "apply",
        "install",
        "configure",
        "submit",
        "order",
        "buy",
        "sell",
        "register",
        "subscribe",
        "unsubscribe",
        "upsert",
        "patch",
        "replace",
        "commit",
        "push",
        "tag",
    ]
)
# Words naming content that people other than the user write: messages, pages, reviews, files.
_THIRD_PARTY = re.compile(
    r"\b(e-?mails?|inbox|messages?|chats?|channels?|dms?|posts?|comments?|replies|reviews?|"
    r"ratings?|feedback|web ?pages?|websites?|urls?|html|pages?|articles?|news|feeds?|rss|"
    r"documents?|docs|files?|contents?|attachments?|notes?|tickets?|issues?|pull requests?|"
    r"calendars?|events?|invitations?|descriptions?|transactions?|subjects?|bodies|body|"
    r"search results?|results from the web|internet|tweets?|social|forums?|wiki)\b",
    re.IGNORECASE,
)
_NAME_SPLIT = re.compile(r"[_\-.\s/]+|(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class ToolSuggestion:
    """A suggested declaration: effect and output trust, each with the reason."""

    name: str
    effect: Effect
    effect_reason: str
    output_trust: Trust
    trust_reason: str
    untrusted_fields: tuple[str, ...] = ()

    def declaration(self) -> dict[str, Any]:
        out: dict[str, Any] = {"effect": self.effect.value, "output_trust": self.output_trust.value}
        if self.untrusted_fields:
            out["untrusted_fields"] = list(self.untrusted_fields)
        return out


def suggest_tools(document: Any) -> list[ToolSuggestion]:
    """Suggestions for every tool in `document` (see the module docstring for the shapes)."""
    return [_suggest(tool) for tool in _tools(document)]


def suggestions_yaml(suggestions: Iterable[ToolSuggestion]) -> str:
    """A `tools:` policy section, each tool with its reasons as comments: review, then include."""
    lines = [
        "# Suggested by `railguard tools suggest`: confirm each line before using it.",
        "tools:",
    ]
    for s in suggestions:
        lines.append(f"  # {s.name}: {s.effect_reason}; {s.trust_reason}")
        fields = (
            f", untrusted_fields: [{', '.join(map(_yaml_key, s.untrusted_fields))}]"
            if s.untrusted_fields
            else ""
        )
        lines.append(
            f"  {_yaml_key(s.name)}: {{effect: {s.effect.value}, output_trust: {s.output_trust.value}{fields}}}"
        )
    return "\n".join(lines) + "\n"


def _yaml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", name) else '"' + name.replace('"', '\\"') + '"'


def _tools(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, Mapping) and "tools" in document:
        document = document["tools"]
    elif isinstance(document, Mapping) and "result" in document:  # a JSON-RPC answer to tools/list
        return _tools(document["result"])
    if not isinstance(document, list):
        raise ConfigurationError(
            'tool schemas must be a list of tools or an MCP tools/list result ({"tools": [...]}); '
            f"got {type(document).__name__}"
        )
    tools = []
    for index, item in enumerate(document):
        if isinstance(item, Mapping) and isinstance(item.get("function"), Mapping):
            item = item["function"]  # OpenAI's {"type": "function", "function": {...}}
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigurationError(f"tool #{index + 1} has no 'name': each tool needs at least a name")
        tools.append(item)
    return tools


def _suggest(tool: Mapping[str, Any]) -> ToolSuggestion:
    name = str(tool["name"])
    description = str(tool.get("description") or "")
    effect, effect_reason = _effect(name, description, tool.get("annotations"))
    fields = _third_party_fields(tool.get("outputSchema"))
    if fields:  # an output schema says which parts others write: trust the rest
        reason = f"fields {', '.join(fields)} can carry text others write; the rest is the tool's own"
        return ToolSuggestion(name, effect, effect_reason, Trust.TRUSTED, reason, fields)
    trust, trust_reason = _trust(name, description, tool.get("annotations"))
    return ToolSuggestion(name, effect, effect_reason, trust, trust_reason)


def _third_party_fields(schema: Any, depth: int = 0) -> tuple[str, ...]:
    """Property names of an output JSON Schema (two levels, arrays looked through) that read as
    third-party text, when the schema also has properties that don't."""
    if not isinstance(schema, Mapping) or depth > 2:
        return ()
    if isinstance(schema.get("items"), Mapping):
        return _third_party_fields(schema["items"], depth)
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return ()
    found: list[str] = []
    others = 0
    for key, sub in properties.items():
        if _THIRD_PARTY.search(" ".join(_words(str(key)))):
            found.append(str(key))
        else:
            others += 1
            found.extend(_third_party_fields(sub, depth + 1))
    return tuple(dict.fromkeys(found)) if found and others else ()


def _words(name: str) -> list[str]:
    return [w.lower() for w in _NAME_SPLIT.split(name) if w]


def _effect(name: str, description: str, annotations: Any) -> tuple[Effect, str]:
    if isinstance(annotations, Mapping):
        if annotations.get("readOnlyHint") is True:
            return Effect.READ, "annotated readOnlyHint"
        if annotations.get("destructiveHint") is True:
            return Effect.IRREVERSIBLE, "annotated destructiveHint"
    words = _words(name)
    for word in words[:2]:  # the verb leads the name: get_x, list_x; or follows a namespace: mail_send
        for verbs, effect in (
            (_IRREVERSIBLE_VERBS, Effect.IRREVERSIBLE),
            (_EXEC_VERBS, Effect.EXEC),
            (_WRITE_VERBS, Effect.WRITE),
            (_READ_VERBS, Effect.READ),
        ):
            if word in verbs:
                return effect, f"the name starts with the verb '{word}'"
    first = description.strip().split(" ", 1)[0].lower().rstrip("s.,:") if description.strip() else ""
    for verbs, effect in (
        (_IRREVERSIBLE_VERBS, Effect.IRREVERSIBLE),
        (_WRITE_VERBS, Effect.WRITE),
        (_READ_VERBS, Effect.READ),
    ):
        if first in verbs:
            return effect, f"the description starts with '{first}'"
    return Effect.WRITE, "no verb recognised: taken as acting until a person says otherwise"


def _trust(name: str, description: str, annotations: Any) -> tuple[Trust, str]:
    text = f"{' '.join(_words(name))} {description}"
    match = _THIRD_PARTY.search(text)
    if match is not None:
        return Trust.UNTRUSTED, f"its output can carry text others write ('{match.group(0).lower()}')"
    if isinstance(annotations, Mapping) and annotations.get("openWorldHint") is True:
        return Trust.UNTRUSTED, "annotated openWorldHint (it reaches outside systems)"
    return Trust.TRUSTED, "nothing suggests others can write into its output"

"""LLM escalation of a low-confidence root cause: `RAILGUARD_LLM=anthropic:MODEL` or `openai:MODEL`
(the provider's own SDK, configured by its usual variables: ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL,
OPENAI_API_KEY / OPENAI_BASE_URL).

Only a summary of the run goes out, built from the stored (already redacted) spans and redacted again
here. The model must answer with one JSON object; the answer is validated (known step, bounded
texts, a confidence in [0, 1]) before it replaces the deterministic one, and redacted once more.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from railguard.detect.redact import redact_value
from railguard.store import SpanRow

if TYPE_CHECKING:
    from railguard.diagnose.why import Baseline, Why

ENV = "RAILGUARD_LLM"
PROVIDERS = ("anthropic", "openai")
MAX_SPANS = 80
SYSTEM = (
    "You find the root cause of one AI agent run from its trace. Answer with ONE JSON object and nothing "
    'else: {"step_span_id": the span_id of the step where the run went wrong (one of the listed ids) or null, '
    '"cause": a short snake_case label, "explanation": what went wrong, for a person who will act on it, '
    '"suggestion": the fix (often a policy rule), "tags": a list of short strings, "confidence": 0..1}.'
)


def parse_setting(setting: str | None) -> tuple[str, str] | None:
    """("anthropic"|"openai", model) from "provider:model"; None when unset. Bad values raise ValueError."""
    value = (setting if setting is not None else os.environ.get(ENV, "")).strip()
    if not value:
        return None
    provider, sep, model = value.partition(":")
    if not sep or provider not in PROVIDERS or not model:
        raise ValueError(
            f"{ENV}={value!r} is not valid: use anthropic:MODEL or openai:MODEL (e.g. anthropic:claude-sonnet-4-5)"
        )
    return provider, model


def escalate(answer: Why, spans: list[SpanRow], baseline: Baseline, *, setting: str | None) -> Why:
    try:
        parsed = parse_setting(setting)
    except ValueError as e:
        return replace(answer, llm=f"{e}; showing the deterministic answer")
    if parsed is None:
        return replace(
            answer,
            llm=f"no LLM configured (set {ENV}=anthropic:MODEL or openai:MODEL to escalate "
            f"answers under 0.85 confidence); showing the deterministic answer",
        )
    provider, model = parsed
    prompt = summarize(answer, spans, baseline)
    try:
        text = _ask(provider, model, prompt)
    except (
        Exception
    ) as e:  # the SDK's errors: connection, status, timeouts. Never the key: type and status only.
        status = getattr(e, "status_code", None)
        return replace(
            answer,
            llm=f"the {provider} call failed ({type(e).__name__}{f' {status}' if status else ''}); "
            "showing the deterministic answer",
        )
    try:
        checked = validate(text, {s.span_id for s in spans})
    except ValueError as e:
        return replace(
            answer, llm=f"the {provider} answer was rejected ({e}); showing the deterministic answer"
        )
    step_id = checked["step_span_id"]
    step = next(
        ({"span_id": s.span_id, "name": s.name, "tool": s.tool_name} for s in spans if s.span_id == step_id),
        None,
    )
    evidence = (
        [{"trace_id": answer.trace_id, "span_id": step_id, "why": "the step the model named"}] if step else []
    )
    return replace(
        answer,
        cause=checked["cause"],
        step=step or answer.step,
        explanation=checked["explanation"],
        suggestion=checked["suggestion"],
        tags=checked["tags"],
        confidence=checked["confidence"],
        evidence=evidence + [e for e in answer.evidence if e.get("span_id") != step_id],
        source=f"llm:{provider}:{model}",
        llm=f"escalated to {provider}:{model} (deterministic confidence {answer.confidence:.2f})",
    )


def _redacted(value: Any, limit: int = 240) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return str(redact_value(text)[0])[:limit]


def summarize(answer: Why, spans: list[SpanRow], baseline: Baseline) -> str:
    """The run as the model sees it: steps in order with their outcome, numbers and redacted
    arguments; the agent's baseline; the deterministic candidates."""
    lines = [
        f"run {answer.trace_id}, agent {next((s.agent for s in spans if s.agent), '?')}, {len(spans)} steps"
    ]
    for s in spans[:MAX_SPANS]:
        parts = [
            f"span_id={s.span_id}",
            s.name,
            f"status={s.status}",
            f"{(s.end_ns - s.start_ns) / 1e6:.0f}ms",
        ]
        if s.verdict:
            parts.append(f"verdict={s.verdict} rules={s.rules or ''}")
        if s.input_tokens is not None:
            parts.append(f"tokens={s.input_tokens}/{s.output_tokens}")
        if s.cost_usd:
            parts.append(f"cost=${s.cost_usd:.4f}")
        if s.response_model:
            parts.append(f"served_by={s.response_model}")
        if s.error_type:
            parts.append(f"error={s.error_type}: {_redacted(s.status_message or '', 160)}")
        args = s.attributes.get("gen_ai.tool.call.arguments")
        if args:
            parts.append(f"args={_redacted(args)}")
        reason = s.attributes.get("railguard.reason")
        if reason:
            parts.append(f"reason={_redacted(reason, 160)}")
        lines.append(" | ".join(parts))
    if len(spans) > MAX_SPANS:
        lines.append(f"... {len(spans) - MAX_SPANS} more steps")
    lines.append(
        f"baseline over {baseline.runs} earlier runs: cost median/sd {baseline.cost}, "
        f"step latency medians {{{', '.join(f'{k}: {v[0]:.0f}ms' for k, v in list(baseline.step_ms.items())[:12])}}}, "
        f"usual models {baseline.usual_models}"
    )
    lines.append("deterministic candidates: " + json.dumps(answer.candidates, default=str)[:2000])
    return "\n".join(lines)


def _ask(provider: str, model: str, prompt: str) -> str:
    return chat(provider, model, SYSTEM, [{"role": "user", "content": prompt}])


def chat(
    provider: str, model: str, system: str, messages: list[dict[str, str]], *, max_tokens: int = 1000
) -> str:
    """One answer of `provider:model` (each SDK configured by its own environment variables) to a
    conversation of user/assistant turns; the answer is asked for as one JSON object."""
    if provider == "anthropic":
        import anthropic

        client = anthropic.Anthropic(timeout=60.0, max_retries=1)
        message = client.messages.create(
            model=model,
            max_tokens=max_tokens,
            system=system,
            messages=messages,  # type: ignore[arg-type]
        )
        return "".join(getattr(block, "text", "") for block in message.content)
    import openai

    conversation: list[Any] = [{"role": "system", "content": system}, *messages]
    openai_client = openai.OpenAI(timeout=60.0, max_retries=1)
    completion = openai_client.chat.completions.create(
        model=model, messages=conversation, response_format={"type": "json_object"}
    )
    return completion.choices[0].message.content or ""


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def validate(text: str, span_ids: set[str]) -> dict[str, Any]:
    """The model's answer as a checked dict; ValueError says what was wrong."""
    try:
        data = json.loads(_FENCE.sub("", text.strip()))
    except ValueError:
        raise ValueError("not a JSON object") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    step = data.get("step_span_id")
    if step is not None and step not in span_ids:
        raise ValueError(f"step_span_id {str(step)[:40]!r} is not a step of this run")
    out: dict[str, Any] = {"step_span_id": step}
    for key, limit in (("cause", 60), ("explanation", 2000), ("suggestion", 1000)):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise ValueError(f"{key} must be a non-empty string of at most {limit} characters")
        out[key] = str(redact_value(value.strip())[0])
    tags = data.get("tags", [])
    if (
        not isinstance(tags, list)
        or len(tags) > 10
        or not all(isinstance(t, str) and 0 < len(t) <= 40 for t in tags)
    ):
        raise ValueError("tags must be a list of at most 10 short strings")
    out["tags"] = [str(redact_value(t)[0]) for t in tags]
    confidence = data.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
        raise ValueError("confidence must be a number between 0 and 1")
    out["confidence"] = float(confidence)
    return out

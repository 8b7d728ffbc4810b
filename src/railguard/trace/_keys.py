"""Span names and attribute keys: the OpenTelemetry gen_ai semantic conventions plus `railguard.*`.
They must stay in step with what `railguard.store._otel_map` maps onto columns."""

from __future__ import annotations

# gen_ai semantic conventions
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_RESULT = "gen_ai.tool.call.result"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
FINISH_REASONS = "gen_ai.response.finish_reasons"
CONVERSATION_ID = "gen_ai.conversation.id"
AGENT_NAME = "gen_ai.agent.name"
ERROR_TYPE = "error.type"

# operations (gen_ai.operation.name values)
OP_AGENT = "invoke_agent"
OP_CHAT = "chat"
OP_TOOL = "execute_tool"

# railguard.* : the decision on a tool call
VERDICT = "railguard.verdict"
WOULD_VERDICT = "railguard.would_verdict"
RULES = "railguard.rules"
DECISION_ID = "railguard.decision_id"
POLICY_REVISION = "railguard.policy.revision"
MODE = "railguard.mode"
REASON = "railguard.reason"
# railguard.* : identity on the run span
TENANT = "railguard.tenant"
SESSION = "railguard.session"
USER = "railguard.user"
AGENT_VERSION = "railguard.agent.version"
RUN_ID = "railguard.run"
# railguard.* : telemetry
COST_USD = "railguard.cost.usd"
PRICE_VERSION = "railguard.price.version"
CONFIDENCE = "railguard.confidence"
REDACTED = "railguard.redacted"
TRUNCATED = "railguard.truncated"

# Values under these keys are enums, hashes and numbers Railguard itself sets: never secrets, so the
# redaction processor does not scan them (and they stay exact for queries). Identifiers and model
# names that come from the caller (tool call id, run id, session, model) are NOT here: whatever an
# agent or a framework passes can hold a secret, so they are scanned like any value (an ordinary id
# comes out unchanged).
SAFE_KEYS: frozenset[str] = frozenset(
    {
        OPERATION,
        PROVIDER,
        INPUT_TOKENS,
        OUTPUT_TOKENS,
        CACHE_READ_TOKENS,
        REASONING_TOKENS,
        FINISH_REASONS,
        VERDICT,
        WOULD_VERDICT,
        RULES,
        DECISION_ID,
        POLICY_REVISION,
        MODE,
        COST_USD,
        PRICE_VERSION,
        CONFIDENCE,
        REDACTED,
        TRUNCATED,
        "service.name",
        "service.version",
        "telemetry.sdk.name",
        "telemetry.sdk.language",
        "telemetry.sdk.version",
    }
)

# Identifiers of people: hashed (salted) rather than redacted, so runs of one user still correlate.
HASHED_KEYS: frozenset[str] = frozenset({USER, "enduser.id", "user.id", "user.email"})

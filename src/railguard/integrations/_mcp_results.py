"""Building and rewriting MCP `tools/call` results (plain JSON-RPC dicts, as on the wire)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from railguard.detect.redact import redact_value
from railguard.integrations._mcp_scan import (
    DEFAULT_REDACT_KINDS,
    TextScan,
    injection_notice,
    scan_text,
    secrets_notice,
)


def error_result(text: str) -> dict[str, Any]:
    """A tool result the model reads as a failed call (`isError: true`) with `text` as its reason."""
    return {"content": [{"type": "text", "text": text}], "isError": True}


def scan_result(
    result: dict[str, Any],
    tool: str,
    *,
    untrusted: bool,
    block_injection: bool,
    kinds: frozenset[str] = DEFAULT_REDACT_KINDS,
) -> dict[str, Any]:
    """`result` with secrets redacted in its text content and structured content. For untrusted
    output with injection signals, a warning is put before the content, or (`block_injection`) the
    whole result is replaced by an error result. Other content types pass unchanged."""
    content = result.get("content")
    if not isinstance(content, list):
        return result  # e.g. an `input_required` result: nothing the model reads yet
    scans: list[TextScan] = []

    def scanned(text: str) -> str:
        scan = scan_text(text, untrusted=untrusted, kinds=kinds)
        scans.append(scan)
        return scan.text

    new_content = [_scan_block(block, scanned) for block in content]
    out = {**result, "content": new_content}
    structured_kinds: list[str] = []
    if "structuredContent" in result:
        out["structuredContent"], hits = redact_value(result["structuredContent"], kinds)
        structured_kinds = [kind for _path, kind in hits]
        if untrusted and result["structuredContent"] is not None:
            scans.append(scan_text(_flatten(result["structuredContent"]), untrusted=True, kinds=kinds))
    signals = tuple(dict.fromkeys(s for scan in scans for s in scan.injection_signals))
    if any(scan.injection_flagged for scan in scans):
        notice = injection_notice(tool, signals)
        if block_injection:
            return error_result(f"{notice} The result was withheld.")
        out["content"] = [{"type": "text", "text": notice}, *new_content]
    kinds_found = tuple(dict.fromkeys([*(k for scan in scans for k in scan.secret_kinds), *structured_kinds]))
    if kinds_found:
        out["content"] = [*out["content"], {"type": "text", "text": secrets_notice(tool, kinds_found)}]
    return out


def _scan_block(block: Any, scanned: Callable[[str], str]) -> Any:
    if not isinstance(block, dict):
        return block
    if block.get("type") == "text" and isinstance(block.get("text"), str):
        return {**block, "text": scanned(block["text"])}
    resource = block.get("resource")
    if (
        block.get("type") == "resource"
        and isinstance(resource, dict)
        and isinstance(resource.get("text"), str)
    ):
        return {**block, "resource": {**resource, "text": scanned(resource["text"])}}
    return block


def _flatten(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)

"""Railguard in the tools agents already use. One module per integration:

- `railguard.integrations.claude_code`: Claude Code PreToolUse/PostToolUse hooks
  (`railguard hook claude-code`, `railguard install claude-code`).
- `railguard.integrations.mcp_proxy`: a guarding proxy in front of any stdio MCP server
  (`railguard mcp-proxy -- COMMAND ARGS...`).
- `railguard.integrations.anthropic`, `.openai`: SDK calls traced (`instrument`), tool calls guarded (`run_tools`).
- `railguard.integrations.openai_agents`, `.langchain`, `.generic`: Agents SDK, LangChain/LangGraph, any framework.

Integrations are imported on demand; nothing is exported here.
"""

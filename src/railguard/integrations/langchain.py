"""Railguard in LangChain and LangGraph: guarded tools and a tracing callback handler.

    from railguard.integrations.langchain import RailguardCallbackHandler, guard_tools

    tools = guard_tools([search, send_email], engine)      # same names and schemas for bind_tools
    agent = create_react_agent(model, tools)               # or StateGraph + ToolNode(tools)
    with railguard.run(agent="support", user="ana"):
        agent.invoke({"messages": [...]}, config={"callbacks": [RailguardCallbackHandler()]})

Verdicts: allow runs the tool; modify runs it with the rewritten arguments; block never runs it and
the model gets the reason (a ToolMessage with status "error"), or `ToolException` is raised when the
tool was wrapped with `handle_tool_error=False`; ask waits on `engine.approval_handler` when one is
set and is refused like a block otherwise.
"""

from __future__ import annotations

from railguard.integrations._langchain_tools import GuardedTool, guard_tool, guard_tools
from railguard.integrations._langchain_tracing import RailguardCallbackHandler

__all__ = ["GuardedTool", "RailguardCallbackHandler", "guard_tool", "guard_tools"]

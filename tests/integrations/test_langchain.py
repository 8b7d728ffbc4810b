"""LangChain/LangGraph integration against the real libraries: guarded BaseTools inside LangGraph's
prebuilt `create_react_agent` (real ToolNode), driven by langchain_core's fake chat model with
scripted tool calls; the callback handler's spans are read back from a SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool, ToolException, tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, create_react_agent, tools_condition

from railguard._scope import run
from railguard.engine import Engine
from railguard.integrations.langchain import RailguardCallbackHandler, guard_tool, guard_tools
from railguard.trace import Tracing, trace_engine

from .fake_providers import stored_spans

POLICY = """
rules:
  - rule: shell/no-rm
    tools: [run_shell]
    when: "args.command.startsWith('rm ')"
    verdict: block
    message: "deleting files is not allowed"
  - rule: search/limit
    tools: [search]
    when: "args.limit > 5"
    verdict: modify
    modify:
      set: {limit: '5'}
    message: "at most 5 results"
"""


class ToolCallingFakeModel(GenericFakeChatModel):
    """langchain_core's fake chat model, able to be bound to tools (the agent calls bind_tools)."""

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self  # the scripted messages already carry the tool calls


def _ai(text: str = "", calls: list[tuple[str, dict[str, Any], str]] = ()) -> AIMessage:  # type: ignore[assignment]
    return AIMessage(
        content=text,
        tool_calls=[{"name": n, "args": a, "id": i, "type": "tool_call"} for n, a, i in calls],
        usage_metadata={"input_tokens": 90, "output_tokens": 9, "total_tokens": 99},
        response_metadata={"model_name": "fake-model"},
    )


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine.from_yaml(POLICY)
    unsubscribe = trace_engine(eng)
    yield eng
    unsubscribe()


def _tools(ran: list[str]) -> list[BaseTool]:
    @tool
    def run_shell(command: str) -> str:
        """Run a shell command."""
        ran.append(command)
        return f"ran {command}"

    @tool
    def search(query: str, limit: int = 3) -> str:
        """Search the web."""
        ran.append(f"search:{query}:{limit}")
        return f"{limit} results for {query}"

    return [run_shell, search]


def _tool_messages(result: dict[str, Any]) -> dict[str, ToolMessage]:
    return {m.tool_call_id: m for m in result["messages"] if isinstance(m, ToolMessage)}


# create_react_agent is deprecated in LangGraph 1.x (moved to langchain.agents) but still what most
# LangGraph users run; the async test below builds the graph from StateGraph + ToolNode instead.
@pytest.mark.filterwarnings("ignore:create_react_agent has been moved")
def test_react_agent_blocks_modifies_allows_and_traces(engine: Engine, tracing: Tracing) -> None:
    ran: list[str] = []
    model = ToolCallingFakeModel(
        messages=iter(
            [
                _ai(calls=[("run_shell", {"command": "rm -rf /srv"}, "call_rm")]),
                _ai(calls=[("search", {"query": "railguard", "limit": 50}, "call_search")]),
                _ai(calls=[("run_shell", {"command": "ls"}, "call_ls")]),
                _ai("all done"),
            ]
        )
    )
    agent = create_react_agent(model, guard_tools(_tools(ran), engine))
    with run(agent="ops", tenant="acme", session="s-9"):
        result = agent.invoke(
            {"messages": [HumanMessage("clean up")]}, config={"callbacks": [RailguardCallbackHandler()]}
        )

    assert ran == ["search:railguard:5", "ls"]
    messages = _tool_messages(result)
    assert messages["call_rm"].status == "error"
    assert "deleting files is not allowed" in str(messages["call_rm"].content)
    assert messages["call_search"].content == "5 results for railguard"
    assert messages["call_ls"].content == "ran ls"
    assert result["messages"][-1].content == "all done"

    rows = stored_spans(tracing)
    tools = {row.tool_call_id: row for row in rows if row.operation == "execute_tool"}
    assert set(tools) == {"call_rm", "call_search", "call_ls"}  # one span per call: no twin spans
    assert tools["call_rm"].verdict == "block" and tools["call_rm"].rules == "shell/no-rm"
    assert tools["call_search"].verdict == "modify"
    assert tools["call_ls"].verdict == "allow"
    assert tools["call_ls"].attributes["gen_ai.tool.call.result"] == '"ran ls"'
    chats = [row for row in rows if row.operation == "chat"]
    assert len(chats) == 4
    assert all(c.input_tokens == 90 and c.output_tokens == 9 for c in chats)
    assert len({row.trace_id for row in rows}) == 1


def test_async_agent_and_unguarded_tool_tracing(engine: Engine, tracing: Tracing) -> None:
    ran: list[str] = []
    shell, search = _tools(ran)
    model = ToolCallingFakeModel(
        messages=iter(
            [
                _ai(calls=[("run_shell", {"command": "rm x"}, "a1"), ("search", {"query": "q"}, "a2")]),
                _ai("done"),
            ]
        )
    )
    graph_tools = [guard_tool(shell, engine), search]
    bound = model.bind_tools(graph_tools)

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", call_model)
    graph.add_node("tools", ToolNode(graph_tools))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    agent = graph.compile(name="ops-graph")
    result = asyncio.run(
        agent.ainvoke({"messages": [HumanMessage("go")]}, config={"callbacks": [RailguardCallbackHandler()]})
    )
    assert ran == ["search:q:3"]
    assert "deleting files is not allowed" in str(_tool_messages(result)["a1"].content)
    rows = stored_spans(tracing)
    tools = {row.tool_call_id: row for row in rows if row.operation == "execute_tool"}
    assert tools["a1"].verdict == "block"
    assert tools["a2"].verdict is None and tools["a2"].tool_name == "search"  # traced by the handler
    roots = [row for row in rows if row.parent_span_id is None]
    agent_root = next(r for r in roots if r.operation == "invoke_agent")
    assert agent_root.name == "invoke_agent ops-graph"
    assert tools["a2"].trace_id == agent_root.trace_id


def test_direct_invoke_refuses_or_raises(engine: Engine) -> None:
    ran: list[str] = []
    shell, search = _tools(ran)
    guarded = guard_tool(shell, engine)
    assert guard_tool(guarded, engine) is guarded
    assert convert_to_openai_tool(guarded) == convert_to_openai_tool(shell)  # what bind_tools sends
    refusal = guarded.invoke({"command": "rm -rf /"})
    assert isinstance(refusal, str) and "deleting files is not allowed" in refusal
    strict = guard_tool(shell, engine, handle_tool_error=False)
    with pytest.raises(ToolException, match="deleting files"):
        strict.invoke({"command": "rm -rf /"})
    with pytest.raises(ToolException):
        asyncio.run(strict.ainvoke({"command": "rm -rf /"}))
    assert guarded.invoke("ls") == "ran ls"  # a plain string input maps to the single argument
    assert guard_tool(search, engine).invoke({"query": "x", "limit": 9}) == "5 results for x"
    call = {"name": "run_shell", "args": {"command": "rm a"}, "id": "t1", "type": "tool_call"}
    message = guarded.invoke(call)
    assert isinstance(message, ToolMessage) and message.status == "error" and message.tool_call_id == "t1"
    assert ran == ["ls", "search:x:5"]

"""Guarded LangChain tools: a `BaseTool` that asks the engine before delegating to the tool it wraps.

It overrides `run`/`arun` (what `invoke`, `ainvoke` and LangGraph's `ToolNode` call), so the wrapped
tool keeps everything it does itself: argument validation, injected arguments (state, tool call id),
callbacks, `response_format`, its own error handling."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, ConfigDict

from railguard.engine import Engine
from railguard.integrations.generic import aadmit, admit, tool_span
from railguard.model import Action, Decision, Verdict


def _content(result: Any) -> Any:
    return result.content if isinstance(result, ToolMessage) else result


class GuardedTool(BaseTool):
    """A LangChain tool whose calls Railguard decides first. A refused call never reaches the
    wrapped tool: with `handle_tool_error` truthy (the default) the model gets the reason as the
    tool's result (a `ToolMessage` with status "error" inside a tool call); otherwise
    `ToolException` is raised with the reason."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseTool
    engine: Engine

    # -- arguments -------------------------------------------------------------------------------

    def _visible_fields(self) -> list[str] | None:
        """The arguments the model fills in (injected ones such as graph state are left out)."""
        schema = self.inner.tool_call_schema
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            return list(schema.model_fields)
        if isinstance(schema, Mapping):
            return list(schema.get("properties", {}))
        return None

    def _action_args(self, tool_input: str | dict[str, Any]) -> dict[str, Any]:
        fields = self._visible_fields()
        if isinstance(tool_input, str):
            key = fields[0] if fields and len(fields) == 1 else "input"
            return {key: tool_input}
        if fields is None:
            return dict(tool_input)
        return {key: value for key, value in tool_input.items() if key in fields}

    @staticmethod
    def _rewritten(
        tool_input: str | dict[str, Any], action: Action, decision: Decision
    ) -> str | dict[str, Any]:
        if decision.verdict is not Verdict.MODIFY or decision.args is None:
            return tool_input
        new_args = dict(decision.args)
        if isinstance(tool_input, str):
            only = next(iter(action.args))
            return new_args[only] if list(new_args) == [only] else new_args
        removed = set(action.args) - set(new_args)
        return {**{k: v for k, v in tool_input.items() if k not in removed}, **new_args}

    def _refuse(self, message: str, tool_call_id: str | None) -> Any:
        if not self.handle_tool_error:
            raise ToolException(message)
        if tool_call_id:
            return ToolMessage(content=message, tool_call_id=tool_call_id, name=self.name, status="error")
        return message

    # -- running ---------------------------------------------------------------------------------

    def run(
        self,
        tool_input: str | dict[str, Any],
        verbose: bool | None = None,
        start_color: str | None = "green",
        color: str | None = "green",
        callbacks: Callbacks = None,
        *,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        run_name: str | None = None,
        run_id: uuid.UUID | None = None,
        config: RunnableConfig | None = None,
        tool_call_id: str | None = None,
        **kwargs: Any,
    ) -> Any:
        action = Action(self.name, self._action_args(tool_input), call_id=tool_call_id)
        with tool_span(self.name, call_id=tool_call_id, args=action.args) as span:
            decision, refusal = admit(self.engine, action)
            if refusal is not None:
                return self._refuse(refusal, tool_call_id)
            result = self.inner.run(
                self._rewritten(tool_input, action, decision),
                verbose,
                start_color,
                color,
                callbacks,
                tags=tags,
                metadata=metadata,
                run_name=run_name,
                run_id=run_id,
                config=config,
                tool_call_id=tool_call_id,
                **kwargs,
            )
            span.record_result(_content(result))
            return result

    async def arun(
        self,
        tool_input: str | dict[str, Any],
        verbose: bool | None = None,
        start_color: str | None = "green",
        color: str | None = "green",
        callbacks: Callbacks = None,
        *,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        run_name: str | None = None,
        run_id: uuid.UUID | None = None,
        config: RunnableConfig | None = None,
        tool_call_id: str | None = None,
        **kwargs: Any,
    ) -> Any:
        action = Action(self.name, self._action_args(tool_input), call_id=tool_call_id)
        with tool_span(self.name, call_id=tool_call_id, args=action.args) as span:
            decision, refusal = await aadmit(self.engine, action)
            if refusal is not None:
                return self._refuse(refusal, tool_call_id)
            result = await self.inner.arun(
                self._rewritten(tool_input, action, decision),
                verbose,
                start_color,
                color,
                callbacks,
                tags=tags,
                metadata=metadata,
                run_name=run_name,
                run_id=run_id,
                config=config,
                tool_call_id=tool_call_id,
                **kwargs,
            )
            span.record_result(_content(result))
            return result

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        # Only reached when someone calls `_run` directly: route it through the guard.
        return self.run(kwargs if kwargs or not args else args[0])


def guard_tool(tool: BaseTool, engine: Engine, *, handle_tool_error: bool | str = True) -> GuardedTool:
    """Wrap `tool` so Railguard decides each call (same name, description and argument schema, so
    `bind_tools` and `ToolNode` see the same tool). Wrapping twice is a no-op."""
    if isinstance(tool, GuardedTool):
        return tool
    return GuardedTool(
        name=tool.name,
        description=tool.description,
        args_schema=tool.args_schema,
        return_direct=tool.return_direct,
        handle_tool_error=handle_tool_error,
        inner=tool,
        engine=engine,
    )


def guard_tools(
    tools: list[BaseTool], engine: Engine, *, handle_tool_error: bool | str = True
) -> list[GuardedTool]:
    """`guard_tool` for each tool."""
    return [guard_tool(tool, engine, handle_tool_error=handle_tool_error) for tool in tools]

"""A langchain-core chat model over any :class:`~llm.base.TextModel`.

>>> from llm import load_model
>>> from llm.langchain_adapter import TextModelChat
>>> from stackwise.wiring import model_config          # the composition root's ModelConfig
>>> chat = TextModelChat(model=load_model(model_config()), max_tokens=64)
>>> chat.invoke("Say hi").content                     # doctest: +SKIP

``invoke``/``stream``/``batch`` and chains (``prompt | chat | StrOutputParser()``) work as with
any langchain chat model. Per-call options: ``stop=[...]``, and ``max_tokens`` / ``temperature``
as keyword arguments (or bound with ``.bind(max_tokens=...)``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

_ROLES: dict[type[BaseMessage], str] = {
    SystemMessage: "system",
    HumanMessage: "user",
    AIMessage: "assistant",
    ToolMessage: "tool",
}


def to_chat_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """langchain messages -> ``[{"role", "content"}]`` dicts (text content only)."""
    out: list[dict[str, str]] = []
    for m in messages:
        if isinstance(m, ChatMessage):
            role = {"human": "user", "ai": "assistant"}.get(m.role, m.role)
        else:
            role = next((r for t, r in _ROLES.items() if isinstance(m, t)), None)
            if role is None:
                raise ValueError(f"unsupported message type {type(m).__name__}")
        out.append({"role": role, "content": m.text if not isinstance(m.content, str) else m.content})
    return out


class TextModelChat(BaseChatModel):
    """langchain ``BaseChatModel`` delegating to a stackwise ``TextModel`` (any runtime)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: Any = Field(exclude=True)
    """The wrapped ``TextModel``."""
    max_tokens: int = 256
    temperature: float = 0.0

    @property
    def _llm_type(self) -> str:
        return f"stackwise-{getattr(self.model, 'runtime', 'textmodel')}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": getattr(self.model, "name", ""),
            "runtime": getattr(self.model, "runtime", ""),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def _options(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            "max_tokens": int(kwargs.get("max_tokens", self.max_tokens)),
            "temperature": float(kwargs.get("temperature", self.temperature)),
            "stop": stop,
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self.model.chat(to_chat_messages(messages), **self._options(stop, kwargs))
        message = AIMessage(content=text, response_metadata={"model_name": getattr(self.model, "name", "")})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for piece in self.model.stream_chat(to_chat_messages(messages), **self._options(stop, kwargs)):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk

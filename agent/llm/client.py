"""The chat model edge: a `ChatModel` protocol and `OpenAIChat`, any OpenAI-compatible endpoint via langchain-openai.

The model only ever returns text: it is given no tools, so it cannot reach the network or the host.
Retries are ours (exponential backoff with jitter, honouring Retry-After) and the SDK's own retries are
switched off, so LLM_MAX_RETRIES means exactly that many extra attempts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import SecretStr

from agent.llm.budget import estimate_tokens
from agent.llm.errors import LLMError, LLMUnavailable
from agent.settings import Settings

log = logging.getLogger(__name__)

KEYLESS_PLACEHOLDER = "sk-no-key-required"  # local servers (vLLM, Ollama, LiteLLM) ignore the key
MAX_RETRY_AFTER = 60.0
_RETRY_STATUS = (408, 409, 429)


@dataclass(frozen=True)
class Reply:
    """One answer of the model and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int


class ChatModel(Protocol):
    """Anything that turns chat messages ({"role", "content"} dicts) into a Reply."""

    async def complete(self, messages: list[dict[str, str]], *, node: str) -> Reply:
        """Answer the conversation; `node` names the graph node asking (for accounting and logs)."""
        ...


def to_langchain(messages: list[dict[str, str]]) -> list[BaseMessage]:
    """Plain role/content dicts as LangChain messages; any other role is a programming error."""
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    out: list[BaseMessage] = []
    for message in messages:
        kind = kinds.get(message.get("role", ""))
        if kind is None:
            raise ValueError(f"unknown chat role {message.get('role')!r}")
        out.append(kind(content=message["content"]))
    return out


def usage_of(message: Any, prompt_text: str) -> tuple[int, int]:
    """(prompt, completion) tokens from usage_metadata, else response_metadata, else an estimate."""
    usage = getattr(message, "usage_metadata", None) or {}
    if usage.get("input_tokens") is not None or usage.get("output_tokens") is not None:
        return int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    token_usage = (getattr(message, "response_metadata", None) or {}).get("token_usage") or {}
    if token_usage:
        return int(token_usage.get("prompt_tokens") or 0), int(token_usage.get("completion_tokens") or 0)
    # Some local servers report nothing; an estimate still keeps the budget honest.
    return estimate_tokens(prompt_text), estimate_tokens(_text_of(message))


def _text_of(message: Any) -> str:
    """The answer's text; a model that answers with tool calls anyway (we offer none) has their arguments read
    as text, so a verdict sent as a function call still counts. Nothing of it is ever executed."""
    text = getattr(message, "text", None)
    if not isinstance(text, str):
        content = getattr(message, "content", "")
        text = content if isinstance(content, str) else str(content)
    calls = getattr(message, "tool_calls", None) or []
    if not text.strip() and calls:
        return "\n".join(json.dumps(call.get("args", {})) for call in calls)
    return text


def endpoint_label(base_url: str | None) -> str:
    """Where requests go, without user info, query or fragment (never a credential)."""
    if not base_url:
        return "the OpenAI API"
    parts = urlsplit(base_url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}".rstrip("/")


class OpenAIChat:
    """A ChatModel over langchain-openai's ChatOpenAI (Chat Completions API, no tools, no streaming)."""

    def __init__(self, *, model: str, api_key: str | None = None, base_url: str | None = None,
                 temperature: float = 0.1, timeout: float = 60.0, max_retries: int = 3,
                 backoff: float = 0.5, max_backoff: float = 8.0) -> None:
        if not api_key and not base_url:
            raise LLMUnavailable("no LLM is configured: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server")
        from langchain_openai import ChatOpenAI  # heavy import, paid only when a model is really used

        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.where = endpoint_label(base_url)
        self._secret = api_key or ""
        self._chat = ChatOpenAI(model=model, api_key=SecretStr(api_key or KEYLESS_PLACEHOLDER), base_url=base_url,
                                temperature=temperature, timeout=timeout, max_retries=0,
                                use_responses_api=False)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> OpenAIChat:
        """The client the settings describe (LLM_MODEL, OPENAI_API_KEY, OPENAI_BASE_URL, LLM_TIMEOUT, ...)."""
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        args: dict[str, Any] = {"model": settings.llm_model, "api_key": key or None,
                                "base_url": settings.openai_base_url, "temperature": settings.llm_temperature,
                                "timeout": settings.llm_timeout, "max_retries": settings.llm_max_retries}
        return cls(**{**args, **overrides})

    def __repr__(self) -> str:
        return f"OpenAIChat(model={self.model!r}, endpoint={self.where!r})"

    async def complete(self, messages: list[dict[str, str]], *, node: str) -> Reply:
        """One chat completion; transient failures are retried, the rest become LLMError/LLMUnavailable."""
        lc_messages = to_langchain(messages)
        prompt_text = "\n".join(m["content"] for m in messages)
        attempt = 0
        while True:
            try:
                message = await self._chat.ainvoke(lc_messages)
                break
            except Exception as exc:  # noqa: BLE001 - classified below; nothing raw reaches the user
                retry, problem = self._classify(exc)
                if not retry:
                    raise self._final(exc, problem) from None
                if attempt >= self.max_retries:
                    raise LLMUnavailable(f"{problem}; gave up after {attempt + 1} attempt(s)") from None
                delay = self._delay(attempt, exc)
                attempt += 1
                log.warning("LLM call for %s failed (%s); retry %d of %d in %.2f s",
                            node, problem, attempt, self.max_retries, delay)
                await asyncio.sleep(delay)
        prompt_tokens, completion_tokens = usage_of(message, prompt_text)
        log.info("LLM call for %s: %d prompt + %d completion tokens", node, prompt_tokens, completion_tokens)
        return Reply(_text_of(message), prompt_tokens, completion_tokens)

    def _classify(self, exc: Exception) -> tuple[bool, str]:
        """(retryable?, one-line description) of a failed call."""
        if isinstance(exc, openai.APITimeoutError):
            return True, f"the LLM endpoint at {self.where} did not answer within {self.timeout:g} s"
        if isinstance(exc, openai.APIConnectionError):
            return True, f"cannot connect to the LLM endpoint at {self.where}"
        if isinstance(exc, openai.APIStatusError):
            code = exc.status_code
            if code in _RETRY_STATUS or code >= 500:
                what = "is rate-limiting requests" if code == 429 else "answered with an error"
                return True, f"the LLM endpoint at {self.where} {what} (HTTP {code})"
            return False, f"HTTP {code}"
        return False, type(exc).__name__

    def _final(self, exc: Exception, problem: str) -> LLMError:
        """The user-facing error for a failure that retrying will not fix."""
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return LLMUnavailable(f"the LLM endpoint at {self.where} refused the API key ({problem}); "
                                  "check OPENAI_API_KEY")
        if isinstance(exc, openai.NotFoundError):
            return LLMUnavailable(f"the LLM endpoint at {self.where} has no chat model {self.model!r} ({problem}); "
                                  "check LLM_MODEL and OPENAI_BASE_URL")
        detail = self._scrub(getattr(exc, "message", None) or str(exc))
        if "context" in detail.lower() and ("length" in detail.lower() or "window" in detail.lower()):
            return LLMError(f"the prompt is longer than the context window of {self.model!r}: {detail}")
        return LLMError(f"the LLM endpoint at {self.where} refused the request ({problem}): {detail}")

    def _delay(self, attempt: int, exc: Exception) -> float:
        """Exponential backoff with jitter; a server's Retry-After (up to a minute) wins."""
        response = getattr(exc, "response", None)
        header = response.headers.get("retry-after") if response is not None else None
        if header:
            try:
                return min(max(float(header), 0.0), MAX_RETRY_AFTER)
            except ValueError:
                pass
        return min(self.max_backoff, self.backoff * 2**attempt) * (0.75 + 0.25 * random.random())

    def _scrub(self, text: str) -> str:
        """One short line with the key masked (servers sometimes echo it)."""
        line = re.sub(r"^Error code: \d+ - ", "", " ".join(str(text).split()))[:200]
        return line.replace(self._secret, "***") if self._secret else line

"""OpenAIChat over real HTTP against a local OpenAI-compatible server: usage, retries, failures, secrecy."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from openai_server import OpenAIServer

from agent.llm.client import KEYLESS_PLACEHOLDER, OpenAIChat, endpoint_label, usage_of
from agent.llm.errors import LLMError, LLMUnavailable
from agent.settings import load_settings

KEY = "sk-test-very-secret-0123456789"
HELLO = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]


def client(server: OpenAIServer, **kw) -> OpenAIChat:
    args = {"model": "scripted-model", "api_key": KEY, "base_url": server.base_url, "timeout": 2.0,
            "max_retries": 2, "backoff": 0.01, "max_backoff": 0.05}
    return OpenAIChat(**{**args, **kw})


async def test_reply_usage_and_request_shape():
    async with OpenAIServer([{"reply": "hi there", "usage": (42, 5)}]) as server:
        reply = await client(server, temperature=0.3).complete(HELLO, node="manager")
    assert (reply.text, reply.prompt_tokens, reply.completion_tokens) == ("hi there", 42, 5)
    [req] = server.requests
    assert req["headers"]["Authorization"] == f"Bearer {KEY}"
    body = req["json"]
    assert body["model"] == "scripted-model" and body["temperature"] == 0.3
    assert body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    assert "tools" not in body and "functions" not in body  # the model gets no tools


async def test_json_and_tool_call_answers_are_read_as_text():
    verdict = '{"approve": false, "reasons": ["off by one"]}'
    script = [{"reply": verdict, "usage": (9, 4)}, {"tool_call": ("verdict", verdict), "usage": (9, 6)}]
    async with OpenAIServer(script) as server:
        chat = client(server)
        as_json = await chat.complete(HELLO, node="reviewer")
        as_tool = await chat.complete(HELLO, node="reviewer")
    assert json.loads(as_json.text) == json.loads(as_tool.text) == json.loads(verdict)
    assert as_tool.completion_tokens == 6


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_transient_errors_are_retried_then_succeed(status):
    script = [{"status": status, "retry_after": "0"}, {"status": status}, {"reply": "ok", "usage": (3, 1)}]
    async with OpenAIServer(script) as server:
        reply = await client(server, max_retries=3).complete(HELLO, node="coder")
    assert reply.text == "ok"
    assert len(server.requests) == 3


async def test_retries_exhausted_is_unavailable_with_one_clear_line():
    async with OpenAIServer([{"status": 429, "message": f"slow down {KEY}"}]) as server:
        with pytest.raises(LLMUnavailable) as info:
            await client(server, max_retries=2).complete(HELLO, node="coder")
    message = str(info.value)
    assert len(server.requests) == 3  # one call and exactly LLM_MAX_RETRIES retries (SDK retries are off)
    assert "rate-limiting" in message and "gave up after 3 attempt(s)" in message
    assert KEY not in message and "\n" not in message and "Traceback" not in message


async def test_backoff_grows_between_attempts():
    async with OpenAIServer([{"status": 500}]) as server:
        with pytest.raises(LLMUnavailable):
            await client(server, max_retries=3, backoff=0.05, max_backoff=1.0).complete(HELLO, node="x")
    at = [r["at"] for r in server.requests]
    gaps = [b - a for a, b in zip(at, at[1:], strict=False)]
    assert len(gaps) == 3 and gaps[0] >= 0.03 and gaps[2] > gaps[0] * 2


def test_delay_is_exponential_capped_and_honours_retry_after(monkeypatch):
    chat = OpenAIChat(model="m", base_url="http://127.0.0.1:9/v1", backoff=0.5, max_backoff=8.0)
    monkeypatch.setattr("agent.llm.client.random.random", lambda: 1.0)
    assert [chat._delay(n, RuntimeError()) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]

    class Limited(Exception):
        class response:  # noqa: N801 - mimics openai's exception shape
            headers = {"retry-after": "3"}

    assert chat._delay(0, Limited()) == 3.0


async def test_slow_answer_is_retried_then_succeeds():
    async with OpenAIServer([{"sleep": 1.5, "reply": "late"}, {"reply": "fast"}]) as server:
        reply = await client(server, timeout=0.3).complete(HELLO, node="coder")
    assert reply.text == "fast"


async def test_always_slow_is_unavailable():
    async with OpenAIServer([{"sleep": 1.5, "reply": "late"}]) as server:
        with pytest.raises(LLMUnavailable, match=r"did not answer within 0.3 s; gave up after 2"):
            await client(server, timeout=0.3, max_retries=1).complete(HELLO, node="coder")


async def test_connection_refused_is_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chat = OpenAIChat(model="m", api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=1,
                      backoff=0.01)
    with pytest.raises(LLMUnavailable) as info:
        await chat.complete(HELLO, node="manager")
    assert str(info.value) == (f"cannot connect to the LLM endpoint at http://127.0.0.1:{port}/v1; "
                               "gave up after 2 attempt(s)")


async def test_bad_key_is_not_retried_and_not_echoed():
    script = [{"status": 401, "message": f"Incorrect API key provided: {KEY}"}]
    async with OpenAIServer(script) as server:
        with pytest.raises(LLMUnavailable, match="refused the API key") as info:
            await client(server).complete(HELLO, node="manager")
    assert len(server.requests) == 1 and KEY not in str(info.value)


async def test_unknown_model_and_bad_request():
    async with OpenAIServer([{"status": 404}]) as server:
        with pytest.raises(LLMUnavailable, match="no chat model 'scripted-model'"):
            await client(server).complete(HELLO, node="manager")
    script = [{"status": 400, "message": f"bad {KEY} request", "code": "invalid"}]
    async with OpenAIServer(script) as server:
        with pytest.raises(LLMError, match=r"refused the request \(HTTP 400\): bad \*\*\* request") as info:
            await client(server).complete(HELLO, node="manager")
    assert not isinstance(info.value, LLMUnavailable) and len(server.requests) == 1


async def test_missing_usage_is_estimated():
    async with OpenAIServer([{"reply": "x" * 400, "usage": None}]) as server:
        reply = await client(server).complete(HELLO, node="coder")
    assert reply.prompt_tokens > 0 and reply.completion_tokens >= 100


async def test_keyless_local_server_gets_a_placeholder_key():
    async with OpenAIServer([{"reply": "ok"}]) as server:
        settings = load_settings(_env_file=None, openai_base_url=server.base_url, llm_model="local")
        chat = OpenAIChat.from_settings(settings, backoff=0.01)
        assert (await chat.complete(HELLO, node="manager")).text == "ok"
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {KEYLESS_PLACEHOLDER}"
    assert server.requests[0]["json"]["model"] == "local"


async def test_from_settings_and_nothing_logs_the_key(caplog):
    caplog.set_level(logging.DEBUG)
    async with OpenAIServer([{"status": 500}, {"reply": "ok"}]) as server:
        settings = load_settings(_env_file=None, openai_api_key=KEY, openai_base_url=server.base_url,
                                 llm_timeout=2, llm_max_retries=2)
        chat = OpenAIChat.from_settings(settings, backoff=0.01)
        assert (await chat.complete(HELLO, node="manager")).text == "ok"
    assert server.requests[-1]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert caplog.records, "debug logging was captured"
    assert KEY not in caplog.text and KEY not in repr(chat)
    assert any("retry 1 of 2" in r.getMessage() for r in caplog.records)


def test_no_endpoint_configured():
    with pytest.raises(LLMUnavailable, match="no LLM is configured"):
        OpenAIChat.from_settings(load_settings(_env_file=None, openai_api_key=None, openai_base_url=None))


def test_endpoint_label_hides_credentials_and_usage_fallbacks():
    assert endpoint_label("https://user:pw@llm.example:8443/v1?key=x") == "https://llm.example:8443/v1"
    assert endpoint_label(None) == "the OpenAI API"

    class Message:
        usage_metadata = None
        response_metadata = {"token_usage": {"prompt_tokens": 9, "completion_tokens": 4}}
        text = "done"

    assert usage_of(Message(), "prompt") == (9, 4)

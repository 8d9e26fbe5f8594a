"""An OpenAI-compatible streaming chat client (vLLM, llama.cpp's server, Ollama, OpenAI itself).

``POST {base_url}/chat/completions`` with ``"stream": true`` answers server-sent events, one
``data: {json}`` line per chunk whose ``choices[0].delta.content`` is the next piece of text, then
``data: [DONE]``. Anything else (an HTTP error, a line that is not such an event, silence past the
deadline) raises :class:`LlmError` with a message safe to show the client: it never quotes the model's
output or the prompt.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True, slots=True)
class LlmConfig:
    base_url: str  # e.g. http://127.0.0.1:8000/v1
    model: str
    api_key: str = ""
    timeout_s: float = 60.0  # the whole answer
    first_token_s: float = 20.0  # the first piece (and any pause between pieces)
    vision: bool = False  # the model takes images (OpenAI's image_url content parts)


class LlmError(Exception):
    pass


async def stream_chat(config: LlmConfig, messages: Sequence[dict[str, Any]]) -> AsyncIterator[str]:
    """The answer's text as the model produces it."""
    url = config.base_url.rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    timeout = aiohttp.ClientTimeout(total=config.timeout_s, sock_connect=5.0, sock_read=config.first_token_s)
    body = {"model": config.model, "messages": list(messages), "stream": True}
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, json=body, headers=headers) as r,
        ):
            if r.status != 200:
                raise LlmError(f"the language model answered HTTP {r.status}")
            produced = False
            async for raw in r.content:
                line = raw.decode("utf-8", "replace").strip()
                if not line or line.startswith(":"):
                    continue  # keep-alive comments and event separators
                if not line.startswith("data:"):
                    raise LlmError("the language model's answer is not an OpenAI-compatible event stream")
                data = line[5:].strip()
                if data == "[DONE]":
                    if not produced:
                        raise LlmError("the language model ended without an answer")
                    return
                piece = _content(data)
                if piece:
                    produced = True
                    yield piece
            raise LlmError("the language model's stream ended before [DONE]")
    except TimeoutError:
        raise LlmError(f"the language model did not answer within {config.timeout_s:g} s") from None
    except aiohttp.ClientError as exc:
        raise LlmError(f"the language model is unreachable ({type(exc).__name__})") from None


def _content(data: str) -> str:
    try:
        chunk = json.loads(data)
        choice = chunk["choices"][0]
        delta = choice.get("delta") or {}
        content = delta.get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise LlmError("the language model sent an event that is not an OpenAI chat chunk") from None
    if content is not None and not isinstance(content, str):
        raise LlmError("the language model sent an event that is not an OpenAI chat chunk")
    return content or ""

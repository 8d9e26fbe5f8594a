"""Knowledge-base answers: retrieve passages for a question (and the conversation so far), then stream an
answer built from them, extracted sentences by default or a configured language model's tokens.

The request body comes from gateway/ai12z: ``query``, ``conversation_id`` (set by the gateway, so an
answer taken over by another worker after a crash keeps it), ``images`` (validated data URLs),
``include_tags``, ``exclude_tags``. The last event is a :class:`Result` with the fields of AI12Z's
``end_response``, or a :class:`Failed` saying why (the model unreachable, slow or talking nonsense).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgpack

from services.bus.client import Bus
from services.bus.envelope import BAD_REQUEST, UNAVAILABLE, Request
from services.bus.sessions import Failed, Result, SessionEvent, Token
from services.kb.answer import NOT_FOUND, extract_answer, tokens
from services.kb.llm import LlmConfig, LlmError, stream_chat
from services.kb.search import Passage, Retriever, follow_up_query
from services.settings import KbSettings

log = logging.getLogger("workers.kb")

NO_IMAGES = "(Images were not used: no image-capable model is configured.)\n\n"
SYSTEM_PROMPT = (
    "You answer questions about the knowledge base below, using only its passages. If they do not hold "
    "the answer, say that the knowledge base does not cover it. Answer briefly, in Markdown."
)


class KbHandler:
    capability = "kb"

    def __init__(self, settings: KbSettings, bus: Bus, retriever: Retriever) -> None:
        self.settings = settings
        self.bus = bus
        self.retriever = retriever
        self.llm = (
            LlmConfig(
                settings.llm_base_url,
                settings.llm_model,
                settings.llm_api_key,
                settings.llm_timeout_s,
                settings.llm_first_token_s,
                settings.llm_vision,
            )
            if settings.llm_base_url
            else None
        )

    async def answer(self, request: Request) -> AsyncIterator[SessionEvent]:
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            yield Failed(message="malformed knowledge-base request", status=BAD_REQUEST)
            return
        query, conversation_id = body["query"], str(body.get("conversation_id") or uuid.uuid4().hex)
        images = [i for i in body.get("images") or [] if isinstance(i, str)]
        history = await self._history(conversation_id)
        search_text = follow_up_query([q for q, _a in history], query)
        passages = await asyncio.to_thread(
            self._search, search_text, _strings(body.get("include_tags")), _strings(body.get("exclude_tags"))
        )
        relevant = [p for p in passages if p.relevance >= self.retriever.threshold]
        use_images = bool(images) and self.llm is not None and self.llm.vision
        pieces: list[str] = []
        if images and not use_images:
            pieces.append(NO_IMAGES)
            yield Token(text=NO_IMAGES)
        if not relevant:
            for piece in tokens(NOT_FOUND):
                pieces.append(piece)
                yield Token(text=piece)
        elif self.llm is not None:
            messages = _messages(query, relevant, history, images if use_images else [])
            try:
                async with asyncio.timeout(self.llm.timeout_s):
                    async for piece in stream_chat(self.llm, messages):
                        pieces.append(piece)
                        yield Token(text=piece)
            except LlmError as exc:
                yield Failed(message=str(exc), status=UNAVAILABLE)
                return
            except TimeoutError:
                yield Failed(message=f"the language model did not finish within {self.llm.timeout_s:g} s")
                return
        else:
            for piece in tokens(extract_answer(query, relevant)):
                pieces.append(piece)
                yield Token(text=piece)
        answer = "".join(pieces).strip()
        await self._remember(conversation_id, query, answer)
        yield Result(body=_end_fields(answer, conversation_id, relevant))

    def _search(self, text: str, include: list[str], exclude: list[str]) -> list[Passage]:
        self.retriever.refresh()  # a new ingest is picked up here, without a restart
        return self.retriever.search(text, self.settings.top_k, include_tags=include, exclude_tags=exclude)

    async def _history(self, conversation_id: str) -> list[tuple[str, str]]:
        try:
            rows = await self.bus.conversation(conversation_id, self.settings.conversation_turns)
        except Exception as exc:  # history is a help, not a must: answer without it
            log.warning("conversation not read", extra={"error": type(exc).__name__})
            return []
        turns: list[tuple[str, str]] = []
        for row in rows:
            turn = msgpack.unpackb(row)
            if isinstance(turn, dict) and isinstance(turn.get("q"), str) and isinstance(turn.get("a"), str):
                turns.append((turn["q"], turn["a"]))
        return turns

    async def _remember(self, conversation_id: str, query: str, answer: str) -> None:
        turn = msgpack.packb({"q": query, "a": answer})
        try:
            s = self.settings
            await self.bus.add_turn(conversation_id, turn, s.conversation_turns, s.conversation_ttl_s)
        except Exception as exc:
            log.warning("conversation not saved", extra={"error": type(exc).__name__})


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _messages(
    query: str, passages: Sequence[Passage], history: Sequence[tuple[str, str]], images: Sequence[str]
) -> list[dict[str, Any]]:
    context = "\n\n".join(f"[{i + 1}] {p.title}\n{p.text}" for i, p in enumerate(passages))
    messages: list[dict[str, Any]] = [{"role": "system", "content": f"{SYSTEM_PROMPT}\n\n{context}"}]
    for question, answer in history:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    if images:
        parts: list[dict[str, Any]] = [{"type": "text", "text": query}]
        parts += [{"type": "image_url", "image_url": {"url": url}} for url in images]
        messages.append({"role": "user", "content": parts})
    else:
        messages.append({"role": "user", "content": query})
    return messages


def _end_fields(answer: str, conversation_id: str, passages: Sequence[Passage]) -> dict[str, Any]:
    best = passages[0] if passages else None
    return {
        "answer": answer,
        "conversationId": conversation_id,
        "didAnswer": best is not None,
        "title": best.title if best else None,
        "link": best.link if best else None,
        "description": best.description if best else None,
        "relevanceScore": round(best.relevance, 4) if best else None,
        "assetType": best.asset_type if best else None,
        "context": [
            {"title": p.title, "link": p.link, "text": p.text, "relevanceScore": round(p.relevance, 4)}
            for p in passages
        ],
        "insightId": uuid.uuid4().hex,
        "error": None,
    }

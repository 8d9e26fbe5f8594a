"""An ``evaluate_query`` payload checked field by field, and the ``end_response`` every outcome ends with.

AI12Z's clients send ``{apiKey, query, conversationId?, event, base64Images?, includeTags?, excludeTags?,
requestMetadata?}``; anything wrong is answered by one ``end_response`` whose ``error`` says what,
never by silence. ``requestMetadata`` is accepted and not used (nor logged).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from gateway.middleware import key_allowed

MAX_QUERY_BYTES = 8192
MAX_IMAGES = 8
_CONVERSATION_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_DATA_URL = re.compile(r"data:image/(png|jpeg|jpg|gif|webp);base64,", re.IGNORECASE)
_MAGIC = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "jpg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "webp": (b"RIFF",),
}

END_FIELDS = (
    "answer", "conversationId", "title", "link", "description", "relevanceScore", "assetType", "didAnswer",
    "context", "insightId", "formModel", "controlData", "controlType", "error",
)  # fmt: skip


class BadQuery(ValueError):
    pass


@dataclass(frozen=True)
class Query:
    text: str
    conversation_id: str  # "" when the client starts a conversation
    images: list[str] = field(default_factory=list)  # validated data URLs
    include_tags: list[str] = field(default_factory=list)
    exclude_tags: list[str] = field(default_factory=list)
    api_key: str = ""  # what the client is counted under by the rate limit


def parse_query(data: Any, keys: tuple[str, ...]) -> Query:
    if not isinstance(data, dict):
        raise BadQuery("the evaluate_query payload must be an object")
    api_key = data.get("apiKey", "")
    if not isinstance(api_key, str) or not key_allowed(api_key, keys):
        raise BadQuery("missing or invalid apiKey")
    text = data.get("query")
    if not isinstance(text, str) or not text.strip():
        raise BadQuery("query: a non-empty string is required")
    if len(text.encode("utf-8")) > MAX_QUERY_BYTES:
        raise BadQuery(f"query: longer than {MAX_QUERY_BYTES} bytes")
    conversation = data.get("conversationId") or ""
    if not isinstance(conversation, str) or (conversation and not _CONVERSATION_ID.fullmatch(conversation)):
        raise BadQuery("conversationId: use the id an end_response gave, or an empty string")
    return Query(
        text.strip(),
        conversation,
        _images(data.get("base64Images")),
        _tags(data.get("includeTags"), "includeTags"),
        _tags(data.get("excludeTags"), "excludeTags"),
        api_key,
    )


def _tags(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise BadQuery(f"{name}: a list of strings")
    return [t for t in value if t]


def _images(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_IMAGES:
        raise BadQuery(f"base64Images: a list of at most {MAX_IMAGES} image data URLs")
    for i, url in enumerate(value):
        match = _DATA_URL.match(url) if isinstance(url, str) else None
        if match is None:
            raise BadQuery(f"base64Images[{i}]: not a data URL of a PNG, JPEG, GIF or WebP image")
        try:
            head = base64.b64decode(url[match.end() : match.end() + 64], validate=True)
            base64.b64decode(url[match.end() :], validate=True)
        except (binascii.Error, ValueError):
            raise BadQuery(f"base64Images[{i}]: the image data is not valid base64") from None
        if not head.startswith(_MAGIC[match.group(1).lower()]):
            raise BadQuery(f"base64Images[{i}]: the data is not a {match.group(1).upper()} image")
    return list(value)


def end_response(conversation_id: str, *, error: str | None = None, **fields: Any) -> dict[str, Any]:
    """Every field AI12Z's page lists, so a client reading any of them finds it (null when unused)."""
    body: dict[str, Any] = dict.fromkeys(END_FIELDS)
    body.update(answer="", conversationId=conversation_id, didAnswer=False, error=error)
    body.update({k: v for k, v in fields.items() if k in END_FIELDS})
    return body

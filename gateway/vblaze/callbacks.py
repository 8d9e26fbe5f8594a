"""V-Blaze ``callback`` and ``utterance_callback``: results POSTed by a batch worker, with retries.

Both never raise and never wait: the stream's own results are unaffected by a broker that is down.
"""

from __future__ import annotations

from gateway.transport.batch import BatchClient
from gateway.vblaze.render import RenderTags, UtteranceResult, content_type, render_utterance


def post_utterance(
    batch: BatchClient | None, tags: RenderTags, callback: str | None, utt: UtteranceResult, uttid: int
) -> None:
    """utterance_callback: POST each final utterance there."""
    if batch is None or callback is None:
        return
    if (text := render_utterance(utt, uttid=uttid, tags=tags)) is not None:
        batch.post_later(callback, text, content_type(tags))


def post_transcript(batch: BatchClient | None, tags: RenderTags, callback: str | None, transcript: str) -> None:
    """callback: POST the final transcript there as well."""
    if batch is not None and callback is not None:
        batch.post_later(callback, transcript, content_type(tags))

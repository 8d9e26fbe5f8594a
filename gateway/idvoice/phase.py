"""The parameter phase of an IDVoice stream: each text message is the next parameter, answered ``"200"``
(accepted) or ``"500"`` (refused: the client may send the same parameter again).

Verify streams come in two forms: template, rate, context, window (the published clients) and template,
rate, window (the seed page). After three parameters a binary message starts the audio in the older
form; a fourth text message is the window of the newer one, and the third was the context.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.voice.params import DEFAULT_CONTEXT_S, Mode, StreamParams, parse_ms, parse_rate, parse_seconds
from services.voice.templates import parse_template

_COUNT = {"endpoint": 3, "summary": 1, "verify": 4}


@dataclass
class ParameterPhase:
    mode: Mode
    opus: bool = False
    values: list[str | int | float] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every parameter is in: a text message now is an error in the audio phase."""
        return len(self.values) == _COUNT[self.mode]

    @property
    def ready_for_audio(self) -> bool:
        return self.complete or (self.mode == "verify" and len(self.values) == 3)

    def offer(self, text: str) -> str | None:
        """Take the next parameter; None when accepted, else why not (the reply is ``"500"``)."""
        at = len(self.values)
        try:
            value = self._parse(at, text)
        except ValueError as exc:
            return str(exc)
        self.values.append(value)
        return None

    def _parse(self, at: int, text: str) -> str | int | float:
        if self.mode == "summary":
            return parse_rate(text, opus=self.opus)
        if self.mode == "endpoint":
            if at == 0:
                return parse_ms(text, "minimum speech length")
            if at == 1:
                return parse_ms(text, "silence after speech")
            return parse_rate(text, opus=self.opus)
        if at == 0:
            parse_template(text)  # the format; the worker checks the encoder (gateway/idvoice/ws.py asks it)
            return text.strip()
        if at == 1:
            return parse_rate(text, opus=self.opus)
        if at == 2:
            return parse_seconds(text, "audio context length")
        window = parse_seconds(text, "window length")
        context = self.values[2]
        assert isinstance(context, float)
        if window > context:
            raise ValueError(f"the window ({window:g} s) is longer than the audio context ({context:g} s)")
        return window

    def params(self) -> StreamParams:
        v = self.values
        if self.mode == "summary":
            return StreamParams("summary", int(v[0]))
        if self.mode == "endpoint":
            return StreamParams("endpoint", int(v[2]), min_speech_ms=int(v[0]), silence_ms=int(v[1]))
        template, rate = str(v[0]), int(v[1])
        if len(v) == 3:  # the older form: the third parameter was the window
            window = float(v[2])
            return StreamParams(
                "verify", rate, template=template, window_s=window, context_s=max(DEFAULT_CONTEXT_S, window)
            )
        return StreamParams("verify", rate, template=template, window_s=float(v[3]), context_s=float(v[2]))

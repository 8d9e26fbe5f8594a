"""Configuration from environment variables, one dataclass per role.

Every variable is read in one place and a bad value fails loudly, naming the variable and the value.
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field


class ConfigError(ValueError):
    """A configuration variable has a value the service cannot use."""


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_bool(raw: str) -> bool:
    """The one true/false parser (environment variables and protocol flags alike); ValueError otherwise."""
    lower = raw.strip().lower()
    if lower in _TRUE:
        return True
    if lower in _FALSE:
        return False
    raise ValueError(f"{raw!r} is not a valid bool (use true or false)")


def _get(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, default).strip()


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _get(env, name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"Config '{name}' has value '{raw}'. Not a valid integer.") from None
    if value < minimum:
        raise ConfigError(f"Config '{name}' has value '{raw}'. Must be at least {minimum}.")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = _get(env, name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"Config '{name}' has value '{raw}'. Not a valid number.") from None
    if value < minimum:
        raise ConfigError(f"Config '{name}' has value '{raw}'. Must be at least {minimum}.")
    return value


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _get(env, name, "")
    if not raw:
        return default
    try:
        return parse_bool(raw)
    except ValueError:
        raise ConfigError(f"Config '{name}' has value '{raw}'. Not a valid bool (use true or false).") from None


def env_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in _get(env, name, "").split(",") if item.strip())


def _api_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    keys = env_list(env, "API_KEYS")
    raw = _get(env, "API_KEYS", "")
    if raw and not keys:
        # " , " would otherwise switch authentication off without a word.
        raise ConfigError(f"Config 'API_KEYS' has value '{raw}'. It names no key: unset it to run without keys.")
    return keys


def _instance_id(prefix: str) -> str:
    # Unique per process so a restarted process never reads a dead one's reply stream or pending list.
    return f"{prefix}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class BusSettings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_cluster: bool = False
    # Approximate cap on every stream; a backstop far above what in-flight limits allow.
    stream_maxlen: int = 100_000
    partitions: int = 1
    reply_ttl_ms: int = 120_000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BusSettings:
        env = os.environ if env is None else env
        url = _get(env, "REDIS_URL", cls.redis_url)
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"Config 'REDIS_URL' has value '{url}'. Must start with redis://, rediss:// or unix://.")
        return cls(
            redis_url=url,
            redis_cluster=env_bool(env, "REDIS_CLUSTER", False),
            stream_maxlen=env_int(env, "BUS_STREAM_MAXLEN", cls.stream_maxlen, minimum=1000),
            partitions=env_int(env, "BUS_PARTITIONS", cls.partitions, minimum=1),
            reply_ttl_ms=env_int(env, "BUS_REPLY_TTL_MS", cls.reply_ttl_ms, minimum=1000),
        )


@dataclass(frozen=True)
class BatchSettings:
    """Batch jobs and callbacks (Celery on the bus's Redis): read by gateways (enqueue) and batch workers."""

    bus: BusSettings = field(default_factory=BusSettings)
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    # One callback POST may take this long; a slow receiver must not hold a worker for minutes.
    callback_timeout_s: float = 5.0
    # Retries after the first attempt; delay before retry n is about CALLBACK_BACKOFF_S * 2**n, jittered,
    # capped at CALLBACK_BACKOFF_MAX_S. The defaults give up after about a minute.
    callback_max_retries: int = 5
    callback_backoff_s: float = 1.0
    callback_backoff_max_s: float = 60.0
    # Redis redelivers a message not acknowledged within this (acks_late: a worker that died mid-task). It
    # must exceed the longest task and the longest retry delay, or a task would run twice.
    visibility_timeout_s: float = 3600.0
    # A job's audio waits in Redis for its worker no longer than this, even if the job is never run.
    job_audio_ttl_s: int = 3600
    # How long a gateway waits for the broker to take a job before answering 503.
    enqueue_timeout_s: float = 5.0
    # After SIGTERM the worker finishes its task for up to this long, then shuts down cold (the task is
    # put back on the queue for another worker).
    drain_timeout_s: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BatchSettings:
        env = os.environ if env is None else env
        settings = cls(
            bus=BusSettings.from_env(env),
            metrics_port=env_int(env, "METRICS_PORT", 0),
            metrics_host=_get(env, "METRICS_HOST", cls.metrics_host) or cls.metrics_host,
            callback_timeout_s=env_float(env, "CALLBACK_TIMEOUT_S", cls.callback_timeout_s, minimum=0.1),
            callback_max_retries=env_int(env, "CALLBACK_MAX_RETRIES", cls.callback_max_retries),
            callback_backoff_s=env_float(env, "CALLBACK_BACKOFF_S", cls.callback_backoff_s, minimum=0.001),
            callback_backoff_max_s=env_float(env, "CALLBACK_BACKOFF_MAX_S", cls.callback_backoff_max_s, minimum=0.001),
            visibility_timeout_s=env_float(env, "BATCH_VISIBILITY_TIMEOUT_S", cls.visibility_timeout_s, minimum=60.0),
            job_audio_ttl_s=env_int(env, "JOB_AUDIO_TTL_S", cls.job_audio_ttl_s, minimum=60),
            enqueue_timeout_s=env_float(env, "BATCH_ENQUEUE_TIMEOUT_S", cls.enqueue_timeout_s, minimum=0.1),
            drain_timeout_s=env_float(env, "DRAIN_TIMEOUT_S", cls.drain_timeout_s),
        )
        longest_wait = settings.callback_backoff_max_s + settings.callback_timeout_s
        if settings.visibility_timeout_s <= longest_wait:
            raise ConfigError(
                f"Config 'BATCH_VISIBILITY_TIMEOUT_S' has value '{settings.visibility_timeout_s:g}'. Must be more than"
                f" CALLBACK_BACKOFF_MAX_S + CALLBACK_TIMEOUT_S ({longest_wait:g}): a retry held longer than the"
                " visibility timeout is delivered twice."
            )
        return settings


@dataclass(frozen=True)
class GatewaySettings:
    bus: BusSettings = field(default_factory=BusSettings)
    batch: BatchSettings = field(default_factory=BatchSettings)
    host: str = "127.0.0.1"
    port: int = 8081
    gateway_id: str = ""
    api_keys: tuple[str, ...] = ()
    request_timeout_s: float = 30.0
    max_frame_bytes: int = 1 << 20
    max_body_bytes: int = 16 << 20
    max_inflight_per_conn: int = 64
    max_pending: int = 20_000
    drain_delay_s: float = 0.0
    drain_timeout_s: float = 20.0
    # A connection that sends no complete request for this long is closed (partial headers included);
    # above nginx's 60 s upstream keepalive, so nginx never reuses a connection the gateway is closing.
    idle_timeout_s: float = 75.0
    # Seconds of a stream's confirmed audio a gateway keeps, so a session moved to another worker after a
    # crash is cut into utterances exactly as before (longer calls fail over from the oldest kept point).
    stream_history_s: float = 120.0
    # Browser origins, other than the gateway's own host, allowed to open any WebSocket, call the IDVoice
    # REST routes and use Socket.IO ("*": any).
    cors_origins: tuple[str, ...] = ()
    # One IDVoice binary message at most (a whole file in one message is how the vendor's client verifies).
    voice_max_message_bytes: int = 4 << 20
    # Socket.IO (AI12Z): Engine.IO pings every interval; a client silent for interval + timeout is gone.
    socketio_ping_interval_s: float = 25.0
    socketio_ping_timeout_s: float = 20.0
    # A knowledge-base answer not finished by then ends with an error in end_response.
    kb_answer_timeout_s: float = 60.0
    # Limits (0: none). Client connections one gateway holds (WebSockets and Socket.IO clients); requests
    # per second per API key (per client address without keys), shared by every gateway through Redis,
    # with RATE_LIMIT_BURST saved up at most (default: one second's worth, at least 1); streams
    # (/transcribe, IDVoice) one API key may hold open at once across every gateway.
    max_connections: int = 0
    rate_limit_per_s: float = 0.0
    rate_limit_burst: int = 0
    streams_per_key: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewaySettings:
        env = os.environ if env is None else env
        rate = env_float(env, "RATE_LIMIT_PER_S", cls.rate_limit_per_s)
        return cls(
            bus=BusSettings.from_env(env),
            batch=BatchSettings.from_env(env),
            host=_get(env, "GATEWAY_HOST", cls.host),
            port=env_int(env, "GATEWAY_PORT", cls.port, minimum=1),
            gateway_id=_get(env, "GATEWAY_ID", "") or _instance_id("gw"),
            api_keys=_api_keys(env),
            request_timeout_s=env_float(env, "REQUEST_TIMEOUT_S", cls.request_timeout_s, minimum=0.1),
            max_frame_bytes=env_int(env, "MAX_FRAME_BYTES", cls.max_frame_bytes, minimum=1024),
            max_body_bytes=env_int(env, "MAX_BODY_BYTES", cls.max_body_bytes, minimum=1024),
            max_inflight_per_conn=env_int(env, "MAX_INFLIGHT_PER_CONN", cls.max_inflight_per_conn, minimum=1),
            max_pending=env_int(env, "MAX_PENDING", cls.max_pending, minimum=1),
            drain_delay_s=env_float(env, "DRAIN_DELAY_S", cls.drain_delay_s),
            drain_timeout_s=env_float(env, "DRAIN_TIMEOUT_S", cls.drain_timeout_s),
            idle_timeout_s=env_float(env, "GATEWAY_IDLE_TIMEOUT_S", cls.idle_timeout_s, minimum=0.5),
            stream_history_s=env_float(env, "STREAM_HISTORY_S", cls.stream_history_s),
            cors_origins=tuple(o.strip().rstrip("/") for o in _get(env, "CORS_ORIGINS", "").split(",") if o.strip()),
            voice_max_message_bytes=env_int(env, "VOICE_MAX_MESSAGE_BYTES", cls.voice_max_message_bytes, minimum=4096),
            max_connections=env_int(env, "MAX_CONNECTIONS", cls.max_connections, minimum=0),
            rate_limit_per_s=rate,
            rate_limit_burst=env_int(env, "RATE_LIMIT_BURST", max(1, math.ceil(rate)), minimum=1),
            streams_per_key=env_int(env, "STREAMS_PER_KEY", cls.streams_per_key, minimum=0),
        )


@dataclass(frozen=True)
class RedactionSettings:
    """The redaction engine's configuration (redaction workers, and ASR workers for scrubtext)."""

    # "default", or "passthrough" (finds nothing: for benchmarking the relay).
    engine: str = "default"
    # "rules" (offline) or "spacy:<model name or path>" to add a spaCy NER pipeline.
    ner: str = "rules"
    # Key of the UNIQUE_HASHED_ENTITY_TYPE markers; random per process when empty.
    marker_hash_key: str = ""
    synthetic_locale: str = "en_US"
    detect_languages: bool = True
    # Per request: characters in, entities out (bounds the reply), and time for client-supplied patterns.
    max_chars: int = 1_000_000
    max_entities: int = 10_000
    pattern_budget_s: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RedactionSettings:
        env = os.environ if env is None else env
        engine = _get(env, "REDACTION_ENGINE", cls.engine) or cls.engine
        if engine not in {"default", "passthrough"}:
            raise ConfigError(f"Config 'REDACTION_ENGINE' has value '{engine}'. Use default or passthrough.")
        ner = _get(env, "REDACTION_NER", cls.ner) or cls.ner
        if ner != "rules" and not (ner.startswith("spacy:") and len(ner) > len("spacy:")):
            raise ConfigError(f"Config 'REDACTION_NER' has value '{ner}'. Use rules or spacy:<model name or path>.")
        return cls(
            engine=engine,
            ner=ner,
            marker_hash_key=env.get("REDACTION_MARKER_HASH_KEY", ""),
            synthetic_locale=_get(env, "REDACTION_SYNTHETIC_LOCALE", cls.synthetic_locale) or cls.synthetic_locale,
            detect_languages=env_bool(env, "REDACTION_DETECT_LANGUAGES", cls.detect_languages),
            max_chars=env_int(env, "REDACTION_MAX_CHARS", cls.max_chars, minimum=1),
            max_entities=env_int(env, "REDACTION_MAX_ENTITIES", cls.max_entities, minimum=1),
            pattern_budget_s=env_float(env, "REDACTION_PATTERN_BUDGET_S", cls.pattern_budget_s, minimum=0.001),
        )


@dataclass(frozen=True)
class AsrSettings:
    """The speech recognition engine (ASR workers and batch workers)."""

    # ASR_ENGINE: whisper-tiny (the packaged tiny.en, chosen by measurement: see the README); pocketsphinx
    # (the light option: 16 kHz only); vosk:<model dir> / whisper:<model dir>.
    engine: str = "whisper-tiny"
    model_dir: str = ""
    # pocketsphinx decoders loaded at start; more are loaded as concurrent utterances need them.
    decoders: int = 2
    # Whisper writes numbers as digits: "words" (default) spells them as said, "digits" keeps them.
    numbers: str = "words"
    # The VAD that cuts utterances: "webrtc", "silero", or "auto" (silero for Whisper, webrtc for the rest).
    vad: str = "auto"
    # CPU threads one Whisper decode may use (CTranslate2's intra-op threads).
    threads: int = 1
    # Whisper: up to this many utterances that close while a decode runs are decoded next as one batch
    # (1: each alone). Measured in the README (bench-asr).
    batch: int = 4

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AsrSettings:
        env = os.environ if env is None else env
        raw = _get(env, "ASR_ENGINE", cls.engine) or cls.engine
        kind, _, model_dir = raw.partition(":")
        kind, model_dir = kind.strip().lower(), model_dir.strip()
        if kind in {"pocketsphinx", "whisper-tiny"} and model_dir:
            raise ConfigError(f"Config 'ASR_ENGINE' has value '{raw}'. {kind} takes no argument.")
        if kind in {"vosk", "whisper"} and not model_dir:
            raise ConfigError(f"Config 'ASR_ENGINE' has value '{raw}'. {kind} needs a model directory ({kind}:<dir>).")
        if kind not in {"pocketsphinx", "whisper-tiny", "vosk", "whisper"}:
            raise ConfigError(
                f"Config 'ASR_ENGINE' has value '{raw}'."
                " Expected pocketsphinx, whisper-tiny, vosk:<model dir> or whisper:<model dir>."
            )
        decoders = env_int(env, "ASR_DECODERS", cls.decoders, minimum=1)
        if decoders > 64:
            raise ConfigError(f"Config 'ASR_DECODERS' has value '{decoders}'. Use a whole number from 1 to 64.")
        numbers = _get(env, "ASR_NUMBERS", cls.numbers).lower() or cls.numbers
        if numbers not in {"words", "digits"}:
            raise ConfigError(f"Config 'ASR_NUMBERS' has value '{numbers}'. Use words or digits.")
        vad = _get(env, "ASR_VAD", cls.vad).lower() or cls.vad
        if vad not in {"auto", "webrtc", "silero"}:
            raise ConfigError(f"Config 'ASR_VAD' has value '{vad}'. Use auto, webrtc or silero.")
        threads = env_int(env, "ASR_THREADS", cls.threads, minimum=1)
        batch = env_int(env, "ASR_BATCH", cls.batch, minimum=1)
        if batch > 32:
            raise ConfigError(f"Config 'ASR_BATCH' has value '{batch}'. Use a whole number from 1 to 32.")
        return cls(
            engine=kind, model_dir=model_dir, decoders=decoders, numbers=numbers, vad=vad, threads=threads, batch=batch
        )


@dataclass(frozen=True)
class VoiceSettings:
    """The voice engines (voice workers)."""

    # VOICE_ENCODER: the speaker encoder templates are made and compared with (services/voice/encoder.py).
    encoder: str = "dvector"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> VoiceSettings:
        env = os.environ if env is None else env
        encoder = (_get(env, "VOICE_ENCODER", cls.encoder) or cls.encoder).strip().lower()
        if encoder not in VOICE_ENCODERS:
            raise ConfigError(
                f"Config 'VOICE_ENCODER' has value '{encoder}'. Expected one of {', '.join(VOICE_ENCODERS)}."
            )
        return cls(encoder=encoder)


VOICE_ENCODERS = ("dvector",)


@dataclass(frozen=True)
class KbSettings:
    """Knowledge-base answers (kb workers): retrieval, conversations and the optional language model."""

    top_k: int = 5
    # Turns kept per conversation and how long an idle conversation lives (its text is personal data).
    conversation_turns: int = 6
    conversation_ttl_s: int = 1800
    # An OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama); empty: extractive answers.
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout_s: float = 45.0
    llm_first_token_s: float = 15.0
    llm_vision: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KbSettings:
        env = os.environ if env is None else env
        base_url = _get(env, "KB_LLM_BASE_URL", "").strip()
        model = _get(env, "KB_LLM_MODEL", "").strip()
        if base_url and not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"Config 'KB_LLM_BASE_URL' has value '{base_url}'. Must start with http:// or https://.")
        if base_url and not model:
            raise ConfigError("Config 'KB_LLM_MODEL' is empty. A model name is required with KB_LLM_BASE_URL.")
        return cls(
            top_k=env_int(env, "KB_TOP_K", cls.top_k, minimum=1),
            conversation_turns=env_int(env, "KB_CONVERSATION_TURNS", cls.conversation_turns, minimum=1),
            conversation_ttl_s=env_int(env, "KB_CONVERSATION_TTL_S", cls.conversation_ttl_s, minimum=60),
            llm_base_url=base_url,
            llm_model=model,
            llm_api_key=_get(env, "KB_LLM_API_KEY", ""),
            llm_timeout_s=env_float(env, "KB_LLM_TIMEOUT_S", cls.llm_timeout_s, minimum=1.0),
            llm_first_token_s=env_float(env, "KB_LLM_FIRST_TOKEN_S", cls.llm_first_token_s, minimum=0.5),
            llm_vision=env_bool(env, "KB_LLM_VISION", False),
        )


@dataclass(frozen=True)
class WorkerSettings:
    bus: BusSettings = field(default_factory=BusSettings)
    capability: str = "redaction"
    consumer: str = ""
    metrics_port: int = 0
    # Where the metrics port listens: local by default, like everything else; a container sets 0.0.0.0.
    metrics_host: str = "127.0.0.1"
    batch_size: int = 100
    # A read batch is answered in slices of at most this many request bytes, small requests first.
    batch_bytes: int = 1 << 20
    block_ms: int = 1000
    # Entries idle this long in a consumer's pending list belong to a dead worker and are reclaimed.
    claim_idle_ms: int = 5000
    claim_interval_s: float = 1.0
    drain_timeout_s: float = 20.0
    redaction: RedactionSettings = field(default_factory=RedactionSettings)
    asr: AsrSettings = field(default_factory=AsrSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    kb: KbSettings = field(default_factory=KbSettings)
    # A consumer that owns nothing and has not read for this long is a worker that is gone.
    forget_consumer_after_ms: int = 3_600_000
    # Streaming sessions: the lease a worker renews (its lapse moves the session to another worker),
    # and how long a session may go without a frame before the worker frees it.
    lease_ttl_ms: int = 3000
    session_idle_s: float = 60.0
    # Sessions one worker holds at most (memory grows with them); past it, it reads no more opens and
    # the pool's other workers take them.
    session_capacity: int = 16

    @classmethod
    def from_env(cls, capability: str, env: Mapping[str, str] | None = None) -> WorkerSettings:
        env = os.environ if env is None else env
        # Each role reads only the engine variables it uses: an ASR typo never stops a redaction worker.
        return cls(
            bus=BusSettings.from_env(env),
            capability=capability,
            consumer=_get(env, "WORKER_ID", "") or _instance_id(capability),
            metrics_port=env_int(env, "METRICS_PORT", 0),
            metrics_host=_get(env, "METRICS_HOST", cls.metrics_host) or cls.metrics_host,
            batch_size=env_int(env, "WORKER_BATCH", cls.batch_size, minimum=1),
            batch_bytes=env_int(env, "WORKER_BATCH_BYTES", cls.batch_bytes, minimum=1024),
            block_ms=env_int(env, "WORKER_BLOCK_MS", cls.block_ms, minimum=1),
            claim_idle_ms=env_int(env, "CLAIM_IDLE_MS", cls.claim_idle_ms, minimum=100),
            claim_interval_s=env_float(env, "CLAIM_INTERVAL_S", cls.claim_interval_s, minimum=0.05),
            drain_timeout_s=env_float(env, "DRAIN_TIMEOUT_S", cls.drain_timeout_s),
            redaction=RedactionSettings.from_env(env) if capability in {"redaction", "asr"} else RedactionSettings(),
            asr=AsrSettings.from_env(env) if capability == "asr" else AsrSettings(),
            voice=VoiceSettings.from_env(env) if capability == "voice" else VoiceSettings(),
            kb=KbSettings.from_env(env) if capability == "kb" else KbSettings(),
            lease_ttl_ms=env_int(env, "SESSION_LEASE_TTL_MS", cls.lease_ttl_ms, minimum=300),
            session_idle_s=env_float(env, "SESSION_IDLE_S", cls.session_idle_s, minimum=1.0),
            session_capacity=env_int(env, "SESSION_CAPACITY", cls.session_capacity, minimum=1),
            forget_consumer_after_ms=env_int(
                env, "FORGET_CONSUMER_AFTER_MS", cls.forget_consumer_after_ms, minimum=1000
            ),
        )

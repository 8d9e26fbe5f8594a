"""REST /transcribe, batch jobs and callbacks end to end: nginx, a gateway, an ASR worker, a Celery batch
worker and Redis as real processes, and a real HTTP server on 127.0.0.1 receiving the callbacks."""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
import websocket

from services.bus import keys
from tests.support.audio import SILENCE_1S, pcm_of, transcribe_stream, wav
from tests.support.stack import Stack, metric_total, scrape, start_stack

pytestmark = pytest.mark.e2e

MAX_RETRIES = 3


CARD = wav(pcm_of("kal_16k_card.wav"))
TWO_UTTERANCES = wav(pcm_of("slt_16k_order.wav") + SILENCE_1S + pcm_of("kal_16k_card.wav") + SILENCE_1S)


# --- the callback receiver ---------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Records every POST; paths starting /fail answer 500, everything else 200."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait(self, path: str, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(got := self.at(path)) < count:
            assert time.monotonic() < deadline, f"{path}: {len(got)} of {count} callbacks after {timeout}s"
            time.sleep(0.05)
        return got


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with rec.lock:
                rec.received.append(Received(self.path, dict(self.headers.items()), body, time.monotonic()))
            self.send_response(500 if self.path.startswith("/fail") else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def batch_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        "LOG_LEVEL": "DEBUG",
        "CALLBACK_MAX_RETRIES": str(MAX_RETRIES),
        "CALLBACK_BACKOFF_S": "0.1",
        "CALLBACK_BACKOFF_MAX_S": "0.4",
        "CALLBACK_TIMEOUT_S": "2",
    }
    s = start_stack(tmp_path_factory.mktemp("batch"), gateways=1, pools={"asr": 1}, env=env)
    try:
        s.workers.append(
            s.topology.start_celery_worker([keys.BATCH_JOBS_QUEUE, keys.BATCH_CALLBACKS_QUEUE], name="worker-batch-1")
        )
        yield s
    finally:
        s.topology.stop_all()


def _post(stack: Stack, query: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes, str]:
    request = urllib.request.Request(
        f"{stack.url}/transcribe?{query}",
        data=body,
        method="POST",
        headers={"Content-Type": "audio/wav", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read(), err.headers.get("Content-Type", "")


def _words(utterances: list[dict[str, Any]]) -> str:
    return " ".join(e["word"] for u in utterances for e in u["events"])


def _stream(url: str, audio: bytes) -> tuple[list[str], int | None, float]:
    """Send audio then the end marker; the text messages, the close code and the seconds it took."""
    started = time.monotonic()
    messages, code = transcribe_stream(url, audio, chunk=8000)
    assert all(opcode == websocket.ABNF.OPCODE_TEXT for opcode, _ in messages)
    return [data.decode() for _, data in messages], code, time.monotonic() - started


# --- REST ------------------------------------------------------------------------------------------


def test_rest_without_callback_answers_with_the_transcript(batch_stack: Stack) -> None:
    status, body, ctype = _post(batch_stack, "output=json", CARD)
    assert status == 200 and ctype.startswith("application/json")
    transcript = json.loads(body)
    assert {"model", "source", "confidence", "audiosecs", "nchannels", "utterances"} <= set(transcript)
    words = _words(transcript["utterances"]).split()
    assert "credit" in words and "card" in words
    assert transcript["audiosecs"] == pytest.approx(len(CARD) / 32000, abs=0.1)


def test_rest_takes_the_file_as_multipart_field_and_tags_as_headers(batch_stack: Stack) -> None:
    boundary = uuid.uuid4().hex
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="call.wav"\r\n'
            f"Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + CARD
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, body, ctype = _post(
        batch_stack, "", form, {"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Voci-Output": "text"}
    )
    assert status == 200 and ctype.startswith("text/plain")
    assert "credit card" in body.decode()


def test_rest_with_callback_answers_202_at_once_and_posts_the_transcript(
    batch_stack: Stack, receiver: Receiver
) -> None:
    started = time.monotonic()
    status, body, _ = _post(batch_stack, f"output=json&callback={receiver.url('/job')}", CARD)
    assert status == 202 and time.monotonic() - started < 2.0
    answer = json.loads(body)
    assert answer["status"] == "queued" and answer["requestid"]
    (delivered,) = receiver.wait("/job", 1)
    assert delivered.headers["Content-Type"] == "application/json"
    assert delivered.headers["X-Voci-Requestid"] == answer["requestid"]
    words = _words(json.loads(delivered.body)["utterances"]).split()
    assert "credit" in words and "card" in words
    # The job's audio is gone from Redis once the job is done.
    client = redis.Redis.from_url(batch_stack.topology.redis_url)
    try:
        assert client.exists(keys.job_audio_key(answer["requestid"])) == 0
    finally:
        client.close()


@pytest.mark.parametrize("callback", [False, True])
def test_a_bad_tag_is_a_400_naming_the_tag(batch_stack: Stack, receiver: Receiver, callback: bool) -> None:
    query = "output=xml" + (f"&callback={receiver.url('/never')}" if callback else "")
    status, body, _ = _post(batch_stack, query, CARD)
    error = json.loads(body)
    assert status == 400 and error["tag"] == "output" and "'output'" in error["error"]
    status, body, _ = _post(batch_stack, "callback=ftp://example.com/x", CARD)
    assert status == 400 and json.loads(body)["tag"] == "callback"


@pytest.mark.parametrize("callback", [False, True])
def test_a_bad_wav_is_a_400_saying_what_is_wrong(batch_stack: Stack, receiver: Receiver, callback: bool) -> None:
    query = f"callback={receiver.url('/never')}" if callback else ""
    status, body, _ = _post(batch_stack, query, b"this is not a wave file at all" * 4)
    assert status == 400 and "RIFF" in json.loads(body)["error"]
    assert receiver.at("/never") == []


# --- WebSocket callbacks -----------------------------------------------------------------------------


def test_websocket_utterance_callback_gets_each_utterance_instead_of_the_socket(
    batch_stack: Stack, receiver: Receiver
) -> None:
    url = (
        f"ws://127.0.0.1:{batch_stack.nginx.port}/transcribe?output=json&outstream=true"
        f"&utterance_callback={receiver.url('/utt')}"
    )
    texts, code, _ = _stream(url, TWO_UTTERANCES)
    assert code == 1000
    # No utterance messages and no empty end-of-utterances message: only the transcript.
    assert len(texts) == 1
    transcript = json.loads(texts[0])
    assert len(transcript["utterances"]) >= 2
    posted = [json.loads(r.body) for r in receiver.wait("/utt", len(transcript["utterances"]))]
    # Each utterance is its own task, so deliveries may arrive in any order: compare by uttid.
    assert sorted(posted, key=lambda u: u["metadata"]["uttid"]) == transcript["utterances"]


def test_a_failing_callback_is_retried_then_given_up_and_the_stream_is_unaffected(
    batch_stack: Stack, receiver: Receiver
) -> None:
    batch_worker = batch_stack.workers[-1]
    failed_before = metric_total(scrape(batch_worker.port), "worker_callbacks_total", 'outcome="failed"')
    url = f"ws://127.0.0.1:{batch_stack.nginx.port}/transcribe?output=json&callback={receiver.url('/fail')}"
    texts, code, seconds = _stream(url, CARD)
    assert code == 1000 and seconds < 10
    assert "card" in _words(json.loads(texts[-1])["utterances"])
    attempts = receiver.wait("/fail", MAX_RETRIES + 1)
    gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
    assert all(gap >= 0.04 for gap in gaps), gaps  # backoff: half of 0.1 * 2**n at least
    deadline = time.monotonic() + 5
    while metric_total(scrape(batch_worker.port), "worker_callbacks_total", 'outcome="failed"') < failed_before + 1:
        assert time.monotonic() < deadline, "the given-up callback was not counted"
        time.sleep(0.05)
    samples = scrape(batch_worker.port)
    assert metric_total(samples, "worker_callbacks_total", 'outcome="retried"') >= MAX_RETRIES
    time.sleep(0.5)
    assert len(receiver.at("/fail")) == MAX_RETRIES + 1  # and no more after giving up


def test_no_transcript_or_callback_body_reaches_the_logs(batch_stack: Stack) -> None:
    logs = batch_stack.logs().lower()
    for word in ("credit card", "arrived", '"utterances"'):
        assert word not in logs

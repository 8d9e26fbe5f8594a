"""The browser console (gateway/console/) in Debian's Chromium, driven by playwright-core, against the real
stack: nginx, two gateways with API keys on, and a worker for every capability. The page is used as a
person would (typing, ticking, a WAV file played as the microphone, picking files), and each test asserts
what the page then shows. Screenshots go to .run/console-screenshots/ (each test prints its paths)."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.topology import Proc, http_ok, wait_for
from tests.browser.conftest import KEY, Driver
from tests.support.audio import SILENCE_1S, pcm_of, wav
from tests.support.stack import Stack, metric_total, scrape

# Stack start-up (every engine loads) counts against the first test's time.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

TEXT = "My name is John Smith and my phone number is 212-555-0187."
PLANS = "How much is the Fibre 500 plan?"
FOLLOW_UP = "And how long is the contract for that one?"
RATE = 16000
HIGH, LOW = 0.8, 0.2  # verification probabilities: clearly the enrolled speaker, clearly not


@contextlib.contextmanager
def steady_redactions(stack: Stack) -> Iterator[None]:
    """REST redactions sent straight to every gateway meanwhile, so whichever gateway the page's figure
    polls reach (nginx picks the one with the fewest open connections) has requests to show."""
    stop = threading.Event()

    def send() -> None:
        body = json.dumps({"text": ["Hello there"]}).encode()
        while not stop.wait(0.3):
            for gateway in stack.gateways:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{gateway.port}/process/text",
                    data=body,
                    headers={"Content-Type": "application/json", "x-api-key": KEY},
                )
                with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=10) as response:
                    response.read()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(15)


def test_typing_redacts_as_you_type_with_entities_labelled_and_toggles(driver: Driver, console_stack: Stack) -> None:
    with steady_redactions(console_stack):
        page = driver.run("redact", text=TEXT, entities=2)
    assert page["marker"] == "My name is [NAME_1] and my phone number is [PHONE_NUMBER_1]."
    marks = {m["label"]: m for m in page["marks"]}
    assert marks["NAME"]["text"] == "John Smith" and 0 < marks["NAME"]["score"] <= 1
    assert marks["PHONE_NUMBER"]["text"] == "212-555-0187"
    assert "John" not in page["masked"] and "212" not in page["masked"] and "#" in page["masked"]  # MASK
    assert "John Smith" in page["withoutNames"] and "[PHONE_NUMBER_1]" in page["withoutNames"]  # names off
    gateways = {g.name for g in console_stack.gateways}
    assert page["servedBy"] in gateways
    assert set(page["status"]["from"].split(", ")) <= gateways  # live figures, from a named gateway
    assert page["unlabelled"] == []  # every control is labelled
    assert page["consoleErrors"] == []


def test_a_wav_as_the_microphone_gives_utterances_as_they_finalise_and_scrubbed_audio(
    driver: Driver, tmp_path: Path
) -> None:
    mic = tmp_path / "mic.wav"  # Chromium plays it as the microphone, over and over
    mic.write_bytes(wav(pcm_of("slt_16k_order.wav") + SILENCE_1S * 2))
    page = driver.run("transcribe", mic=str(mic), word="order")
    assert any("order" in u.lower() for u in page["live"])  # on the page before the microphone stopped
    assert page["info"].startswith("Transcript complete") and page["error"] == ""
    assert len(page["utterances"]) >= len(page["live"])
    assert page["scrubbedSeconds"] > 1  # the scrubbed audio came back and plays


@pytest.fixture(scope="module")
def speakers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Festival speakers: enrolment speech of one (a WAV file), and a microphone that plays the same
    speaker saying other sentences, then another speaker."""
    from scripts.make_asr_corpus import VOICES, _synthesise, _to_pcm16

    sentences = [
        "The quick brown fox jumps over the lazy dog near the river bank.",
        "Please call me back tomorrow morning about my account balance.",
        "We will meet at the station at half past seven tonight.",
        "My parcel was delivered to the wrong address last Thursday.",
    ]
    out = tmp_path_factory.mktemp("speakers")
    pcm = {}
    for voice in VOICES[:2]:
        paths = _synthesise(voice, sentences, out / voice.name)
        pcm[voice.name] = [_to_pcm16(p, RATE) for p in paths]
    pause = b"\x00\x00" * (RATE // 2)
    files = {
        "enrol": wav(pcm["slt"][0] + pause + pcm["slt"][1]),
        "mic": wav(pcm["slt"][2] + pause + pcm["slt"][3] + pause + pcm["kal"][2] + pause + pcm["kal"][3] + pause),
    }
    for name, data in files.items():
        (out / f"{name}.wav").write_bytes(data)
    return {name: out / f"{name}.wav" for name in files}


def test_enrol_then_live_verification_goes_high_for_the_speaker_then_low_for_another(
    driver: Driver, speakers: dict[str, Path]
) -> None:
    page = driver.run("voice", mic=str(speakers["mic"]), enrol=str(speakers["enrol"]), high=HIGH, low=LOW)
    probabilities = page["probabilities"]
    high = next(i for i, p in enumerate(probabilities) if p >= HIGH)
    assert any(p <= LOW for p in probabilities[high + 1 :]), probabilities
    assert page["strip"]["speech"] > 0 and page["strip"]["silence"] > 0  # the speech/silence strip
    assert page["error"] == ""


def test_a_question_streams_its_answer_with_the_source_and_a_follow_up_continues(driver: Driver) -> None:
    page = driver.run("ask", questions=[PLANS, FOLLOW_UP])
    first, second = page["answers"]
    assert not first["partial"]["done"] and first["partial"]["text"]  # shown while still streaming
    assert first["text"].startswith("From the knowledge base:") and first["tokens"] > 5
    assert first["source"]["href"].startswith("https://northwindfibre.example/") and first["source"]["text"]
    assert first["error"] == "" and second["error"] == "" and second["text"]
    assert second["conversation"] == first["conversation"] != "(new)"  # the same conversation


def test_bad_input_shows_the_servers_error_in_place(driver: Driver) -> None:
    page = driver.run("bad_input")
    assert "invalid API key" in page["redactRefused"]
    assert "invalid apiKey" in page["askRefused"]
    assert "invalid API key" in page["figuresRefused"]
    assert "invalid API key" in page["enrolRefused"]
    assert page["badWav"] and "invalid API key" not in page["badWav"], page["badWav"]  # V-Blaze's own message
    assert page["badEnrolWav"] and "invalid API key" not in page["badEnrolWav"], page["badEnrolWav"]
    assert page["transcribeButtonsUsable"]  # not left hanging


def _ws_clients(port: int) -> float:
    return metric_total(scrape(port), "gateway_connections_open", 'protocol="privateai_ws"')


def test_a_stopped_gateway_the_page_says_so_and_reconnects(driver: Driver, console_stack: Stack) -> None:
    stopped: list[Proc] = []

    def stop_the_gateway_holding_the_pages_socket() -> None:
        wait_for(lambda: any(_ws_clients(g.port) == 1 for g in console_stack.gateways), 10, "the page's /ws")
        victim = next(g for g in console_stack.gateways if _ws_clients(g.port) == 1)
        stopped.append(victim)
        victim.stop()  # SIGTERM: the gateway drains, closes the page's socket with 1001 and exits

    try:
        page = driver.run_with("reconnect", stop_the_gateway_holding_the_pages_socket)
    finally:
        for victim in stopped:  # back for any test that runs after this one
            console_stack.topology.respawn(victim)
            wait_for(lambda: http_ok(f"http://127.0.0.1:{victim.port}/healthz"), 60, "gateway back")  # noqa: B023
    lost = next(e for e in page["lost"] if "Redact: connection lost" in e)
    assert "1001" in lost  # the page says why: the gateway went away
    assert any("Redact: reconnected" in e for e in page["events"])
    assert "[EMAIL_ADDRESS_1]" in page["output"]  # and redaction works again, through the other gateway

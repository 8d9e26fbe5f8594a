# syntax=docker/dockerfile:1
# The gateway image: the edge process and the shared bus code, no engine and no model.
# Build from the repository root (the context is `.`):
#   docker build -f deploy/docker/gateway.Dockerfile -t rtgateway-gateway .

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

FROM base AS deps
WORKDIR /build
COPY pyproject.toml ./
# Install the dependencies named in pyproject.toml (base + the `gateway` extra) and not the project itself:
# a wheel built from this tree leaves out package data such as services/redaction/data, so the sources
# are copied as they are below. This layer depends on pyproject.toml alone, so code edits rebuild fast.
RUN python -c 'import sys, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"][sys.argv[1]]))' gateway > requirements.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install -r requirements.txt

FROM base
# libopus0: opuslib decodes the IDVoice _opus streams with the system's libopus.
RUN apt-get update && apt-get install -y --no-install-recommends libopus0 && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
COPY gateway/ gateway/
COPY services/ services/
# GATEWAY_HOST defaults to 127.0.0.1 for local runs; in a container only 0.0.0.0 is reachable.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8081
USER 10001:10001
EXPOSE 8081
# Exec form: python is PID 1 and gets SIGTERM itself, which starts the drain (readiness off, 1001 closes).
CMD ["python", "-m", "gateway"]

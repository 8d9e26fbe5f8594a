"""Paths and helpers shared by the deployment-file checks."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"
KEDA = sorted((K8S / "keda").glob("*-scaledobject.yaml"))
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
DOCKER = ROOT / "deploy" / "docker"
# Direct dependencies that would put a model stack into an image.
HEAVY = re.compile(r"^(torch|tensorflow|jax|transformers|sentence-transformers|nvidia-)", re.I)

Doc = dict[str, Any]


def run(argv: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def tool(name: str, install: str) -> str:
    # The venv's own bin first: the pip-installed validators live beside this interpreter.
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name) or shutil.which(name, path="/usr/sbin")
    if found is None:
        pytest.fail(f"{name} not found; install it with: {install}")
    return found


def check(argv: list[str]) -> str:
    proc = run(argv)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(argv)} failed:\n{output}"
    return output


def load_yaml(path: Path) -> Doc:
    with path.open() as f:
        doc: Doc = yaml.safe_load(f)
    return doc


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with the defaults only, so the result never depends on this shell."""
    return re.sub(r"\$\$|\$\{(\w+)(?::?-([^}]*))?\}", lambda m: "$" if m[0] == "$$" else m[2] or "", value)


def seconds(duration: str) -> float:
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


def drain_budget(env: Mapping[str, str]) -> float:
    # After SIGTERM: DRAIN_DELAY_S, then the on_shutdown drain (up to DRAIN_TIMEOUT_S), then aiohttp's
    # own wait for running handlers (shutdown_timeout, also DRAIN_TIMEOUT_S).
    return float(env.get("DRAIN_DELAY_S", "0")) + 2 * float(env.get("DRAIN_TIMEOUT_S", "20"))


def service_env(compose: Doc, name: str) -> dict[str, str]:
    env = compose["services"][name].get("environment", {})
    assert isinstance(env, dict), f"{name}: write environment as a mapping"
    return {k: interpolate(str(v)) for k, v in env.items()}


def app_services(compose: Doc) -> list[str]:
    return [n for n in compose["services"] if n == "gateway" or n.startswith("worker-")]


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    hits = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(hits) == 1, f"expected one {kind}/{name} in deploy/k8s, found {len(hits)}"
    return hits[0]


def containers(doc: Doc) -> list[Doc]:
    result: list[Doc] = doc["spec"]["template"]["spec"]["containers"]
    return result


def k8s_env(container: Doc) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def app_deployments(docs: list[Doc]) -> list[Doc]:
    def component(d: Doc) -> str:
        return str(d["metadata"]["labels"]["app.kubernetes.io/component"])

    return [d for d in docs if d["kind"] == "Deployment" and re.match(r"gateway$|worker-", component(d))]

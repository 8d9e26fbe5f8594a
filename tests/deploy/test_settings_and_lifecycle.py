"""Deployment variables are settings; grace periods outlast the drain; probes and scaling."""

from __future__ import annotations

import re

from tests.deploy.files import (
    ROOT,
    Doc,
    app_deployments,
    app_services,
    containers,
    drain_budget,
    find,
    k8s_env,
    seconds,
    service_env,
)

# --- the processes' settings and lifecycles --------------------------------------------------------


def settings_names() -> set[str]:
    source = (ROOT / "services" / "settings.py").read_text()
    pattern = r'(?:_get|env_int|env_float|env_bool|env_list|env\.get)\(\s*env,?\s*"([A-Z][A-Z0-9_]*)"'
    names = set(re.findall(pattern, source)) | set(re.findall(r'env\.get\(\s*"([A-Z][A-Z0-9_]*)"', source))
    expected = {"REDIS_URL", "GATEWAY_PORT", "METRICS_PORT", "REDACTION_MARKER_HASH_KEY", "ASR_ENGINE", "ASR_DECODERS"}
    assert expected <= names, "settings.py no longer reads as expected"
    return names


def test_only_the_settings_module_reads_the_environment() -> None:
    # One place per role reads configuration, so every variable is documented, validated and named in
    # its error. services/logs.py reads LOG_LEVEL before any settings exist.
    allowed = {ROOT / "services" / "settings.py", ROOT / "services" / "logs.py"}
    readers = [
        str(path.relative_to(ROOT))
        for folder in ("gateway", "workers", "services")
        for path in (ROOT / folder).rglob("*.py")
        if path not in allowed and re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text())
    ]
    assert readers == []


def test_every_variable_set_for_gateways_and_workers_is_a_setting(compose: Doc, k8s: list[Doc]) -> None:
    known = settings_names()
    sets = {f"compose {n}": set(service_env(compose, n)) for n in app_services(compose)}
    sets |= {f"k8s {d['metadata']['name']}": set(k8s_env(c)) for d in app_deployments(k8s) for c in containers(d)}
    assert len(sets) >= 4
    for where, names in sets.items():
        assert names <= known, f"{where} sets {sorted(names - known)}, which services/settings.py never reads"


def test_grace_periods_outlast_the_drain(compose: Doc, k8s: list[Doc]) -> None:
    for name in app_services(compose):
        env = service_env(compose, name)
        budget = drain_budget(env) if name == "gateway" else float(env["DRAIN_TIMEOUT_S"])
        assert seconds(compose["services"][name]["stop_grace_period"]) > budget, name
    for deployment in app_deployments(k8s):
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = k8s_env(container)
        budget = drain_budget(env) if "gateway" in deployment["metadata"]["name"] else float(env["DRAIN_TIMEOUT_S"])
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        budget += float(pre_stop[1]) if pre_stop[:1] == ["sleep"] else 0.0
        assert pod["terminationGracePeriodSeconds"] > budget, deployment["metadata"]["name"]


def test_gateway_pods_probe_ready_and_live_and_wait_before_draining(k8s: list[Doc]) -> None:
    deployment = find(k8s, "Deployment", "gateway")
    (container,) = containers(deployment)
    env = k8s_env(container)
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    assert str(port) == env["GATEWAY_PORT"] and float(env["DRAIN_DELAY_S"]) > 0
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    for d in app_deployments(k8s):
        annotations = d["spec"]["template"]["metadata"]["annotations"]
        ports = {str(p["containerPort"]) for c in containers(d) for p in c["ports"]}
        assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] in ports


def test_scalable_compose_services_have_no_fixed_names_or_host_ports(compose: Doc) -> None:
    for name in app_services(compose):
        service = compose["services"][name]
        assert "container_name" not in service and "ports" not in service, f"{name} could not be scaled"

"""Static checks of the deployment files, for a machine with no Docker engine and no cluster.

Schema validators (check-jsonschema, kubernetes-validate, promtool, nginx -t) catch malformed files; the
cross-file checks here catch what they cannot: a variable no setting reads, a metric that does not exist,
a port or a name that one file changed and another did not. A missing tool fails the test with the
command that installs it: a skipped check would read as a passing one.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from scripts.render_nginx import TEMPLATE, render
from services import bus, metrics
from services.hot_metrics import HOT, HistogramFamily

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"
KEDA = K8S / "keda" / "worker-redaction-scaledobject.yaml"
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


@pytest.fixture(scope="module")
def compose() -> Doc:
    return load_yaml(COMPOSE)


def service_env(compose: Doc, name: str) -> dict[str, str]:
    env = compose["services"][name].get("environment", {})
    assert isinstance(env, dict), f"{name}: write environment as a mapping"
    return {k: interpolate(str(v)) for k, v in env.items()}


def app_services(compose: Doc) -> list[str]:
    return [n for n in compose["services"] if n == "gateway" or n.startswith("worker-")]


@pytest.fixture(scope="module")
def k8s() -> list[Doc]:
    docs: list[Doc] = []
    for path in sorted(K8S.glob("*.yaml")):
        with path.open() as f:
            docs.extend(d for d in yaml.safe_load_all(f) if d)
    return docs


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


# --- schema validators -------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_spec() -> None:
    exe = tool("check-jsonschema", ".venv/bin/pip install check-jsonschema")
    check([exe, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)])


def test_k8s_manifests_pass_strict_validation() -> None:
    exe = tool("kubernetes-validate", ".venv/bin/pip install kubernetes-validate")
    files = sorted(str(p) for p in K8S.glob("*.yaml"))
    assert files, "no manifests in deploy/k8s"
    # One invocation: loading the schemas is most of its run time.
    output = check([exe, "--strict", "--quiet", *files])
    # An unknown kind is only a warning to it, and would pass unchecked.
    assert "Couldn't find schema" not in output, output


# KEDA's CRDs are not in kubernetes-validate. This covers the fields the ScaledObject uses, rejects
# unknown ones (a typo is silently ignored by KEDA), and requires strings in trigger metadata as KEDA does.
REDIS_STREAMS_KEYS = [
    "address", "host", "port", "addressFromEnv", "hostFromEnv", "portFromEnv", "usernameFromEnv",
    "passwordFromEnv", "stream", "consumerGroup", "pendingEntriesCount", "streamLength", "lagCount",
    "activationLagCount", "databaseIndex", "enableTLS", "unsafeSsl",
]
INT = {"type": "integer", "minimum": 0}
KEDA_SCHEMA: Doc = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {k: {"type": "string"} for k in ("apiVersion", "kind", "name")},
                },
                **{k: INT for k in ("pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
                                    "idleReplicaCount", "minReplicaCount", "maxReplicaCount")},
                "fallback": {"type": "object"},
                "advanced": {"type": "object"},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"type": "string"},
                            "name": {"type": "string"},
                            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                            "authenticationRef": {"type": "object"},
                            "metricType": {"enum": ["AverageValue", "Value"]},
                        },
                        "if": {"properties": {"type": {"const": "redis-streams"}}},
                        "then": {"properties": {"metadata": {
                            "required": ["stream", "consumerGroup"],
                            "propertyNames": {"enum": REDIS_STREAMS_KEYS},
                        }}},
                    },
                },
            },
        },
    },
}


def test_keda_scaled_object_matches_its_schema(tmp_path: Path) -> None:
    exe = tool("check-jsonschema", ".venv/bin/pip install check-jsonschema")
    schema = tmp_path / "scaledobject.schema.json"
    schema.write_text(json.dumps(KEDA_SCHEMA))
    check([exe, "--schemafile", str(schema), str(KEDA)])


def test_keda_scaled_object_names_the_real_stream_group_and_deployment(k8s: list[Doc]) -> None:
    scaled = load_yaml(KEDA)
    target = find(k8s, "Deployment", scaled["spec"]["scaleTargetRef"]["name"])
    assert containers(target)[0]["command"][-2:] == ["workers", "redaction"]
    redis_port = find(k8s, "Service", "redis")["spec"]["ports"][0]["port"]
    spec = scaled["spec"]
    assert 0 < spec["minReplicaCount"] <= spec["maxReplicaCount"]
    for trigger in spec["triggers"]:
        meta = trigger["metadata"]
        assert meta["stream"] == bus.request_stream("redaction", 0)
        assert meta["consumerGroup"] == bus.group_name("redaction")
        assert re.fullmatch(rf"redis\.[a-z0-9-]+\.svc\.cluster\.local:{redis_port}", meta["address"]), meta


def test_prometheus_config_and_rules_pass_promtool() -> None:
    exe = tool("promtool", "apt-get install prometheus (Debian's package ships promtool)")
    check([exe, "check", "config", str(PROMETHEUS / "prometheus.yml")])
    check([exe, "check", "rules", str(PROMETHEUS / "alerts.yml")])


def alert(name: str, **labels: str) -> Doc:
    return {"alertname": name, "eval_time": labels.pop("at"), "exp_alerts": [{"exp_labels": labels}] if labels else []}


GW = {"job": "gateway"}
PENDING = 'bus_group_pending{stream="req:{redaction.0}",group="redaction",job="worker-redaction",instance="w1"}'
HANDLED = 'worker_messages_total{capability="redaction",outcome="ok",job="worker-redaction",instance="w1"}'
RULE_TESTS: list[Doc] = [
    # No gateway reaches Redis: Redis is down (and one gateway still answers scrapes).
    {"input_series": [{"series": 'gateway_redis_up{job="gateway",instance="g1"}', "values": "0x10"},
                      {"series": 'gateway_redis_up{job="gateway",instance="g2"}', "values": "0x10"},
                      {"series": 'up{job="gateway",instance="g1"}', "values": "1x10"}],
     "alert_rule_test": [alert("RedisDown", severity="critical", at="5m"),
                         alert("NoGatewayUp", at="5m")]},
    # One gateway still reaches Redis: that one is a gateway problem, not a Redis outage.
    {"input_series": [{"series": 'gateway_redis_up{job="gateway",instance="g1"}', "values": "0x10"},
                      {"series": 'gateway_redis_up{job="gateway",instance="g2"}', "values": "1x10"}],
     "alert_rule_test": [alert("RedisDown", at="5m"),
                         alert("GatewayRedisUnreachable", severity="warning", instance="g1", **GW, at="5m"),
                         alert("NoGatewayUp", severity="critical", at="5m")]},
    # Pending entries and no request handled: stuck. The same entries while workers do handle: not stuck.
    {"input_series": [{"series": PENDING, "values": "5x30"}, {"series": HANDLED, "values": "100x30"}],
     "alert_rule_test": [alert("PendingEntriesStuck", severity="critical", stream="req:{redaction.0}",
                               group="redaction", at="20m")]},
    {"input_series": [{"series": PENDING, "values": "5x30"}, {"series": HANDLED, "values": "0+60x30"}],
     "alert_rule_test": [alert("PendingEntriesStuck", at="20m")]},
]


def test_alert_rules_fire_when_they_should(tmp_path: Path) -> None:
    exe = tool("promtool", "apt-get install prometheus (Debian's package ships promtool)")
    # Annotations are prose for people; comparing them would only test their wording.
    rules = load_yaml(PROMETHEUS / "alerts.yml")
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m",
             "tests": [{"interval": "1m", **t} for t in RULE_TESTS]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    proc = run([exe, "test", "rules", "tests.yml"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- queries name real metrics ---------------------------------------------------------------------

KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
            "group_right", "inf", "nan"}


def series_names() -> set[str]:
    """Every series name services/metrics.py exposes, plus Prometheus' own `up`."""
    suffixes = {
        "counter": ["_total", "_created"],
        "gauge": [""],
        "histogram": ["_bucket", "_count", "_sum", "_created"],
    }
    names = {"up"}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                names.update(family.name + s for s in suffixes[family.type])
    # The per-message metrics are exported by services.hot_metrics' collector.
    for hot in HOT.families:
        if isinstance(hot, HistogramFamily):
            names.update(hot.name + s for s in ("_bucket", "_count", "_sum"))
        else:
            names.add(hot.name)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: what is left once strings, label matchers, ranges,
    grouping clauses, function calls and keywords are taken out."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    found = re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)\s*(\()?", expr)
    return {m[1] for m in found if not m[2] and m[1] not in KEYWORDS}


def dashboard_panels() -> Iterator[Doc]:
    dashboard = json.loads((GRAFANA / "dashboards" / "rtgateway.json").read_text())
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # panels inside collapsed rows


def queries() -> Iterator[tuple[str, str]]:
    for panel in dashboard_panels():
        if panel["type"] != "row":
            assert panel.get("targets"), f"panel {panel['title']!r} has no query"
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r}", target["expr"]
    for group in load_yaml(PROMETHEUS / "alerts.yml")["groups"]:
        for rule in group["rules"]:
            yield f"alert {rule['alert']}", rule["expr"]


def test_every_dashboard_and_alert_query_names_existing_metrics() -> None:
    known = series_names()
    checked = 0
    for where, expr in queries():
        names = metric_names(expr)
        assert names, f"{where}: no metric found in {expr!r}"
        assert names <= known, f"{where}: unknown metric {sorted(names - known)} in {expr!r}"
        checked += 1
    assert checked >= 10


def test_dashboard_uses_the_provisioned_datasource(compose: Doc) -> None:
    provisioning = GRAFANA / "provisioning"
    (datasource,) = load_yaml(provisioning / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["url"].startswith("http://prometheus:") and "prometheus" in compose["services"]
    panels = list(dashboard_panels())
    assert len({p["id"] for p in panels}) == len(panels), "panel ids repeat"
    for panel in panels:
        for item in [panel, *panel.get("targets", [])]:
            assert item["datasource"]["uid"] == datasource["uid"], panel["title"]
    # The dashboard provider must read where compose mounts deploy/grafana/dashboards.
    (provider,) = load_yaml(provisioning / "dashboards" / "rtgateway.yml")["providers"]
    mounts = dict(v.rsplit(":", 2)[:2] for v in compose["services"]["grafana"]["volumes"] if v.startswith("./"))
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]


def test_compose_bind_mounts_exist(compose: Doc) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            if volume.startswith("./"):
                assert (ROOT / volume.split(":")[0]).exists(), f"{name}: {volume}"


def test_prometheus_scrapes_every_replica_on_its_metrics_port(compose: Doc) -> None:
    ports = {"gateway": service_env(compose, "gateway")["GATEWAY_PORT"]}
    ports |= {n: service_env(compose, n)["METRICS_PORT"] for n in app_services(compose) if n != "gateway"}
    jobs = {j["job_name"]: j for j in load_yaml(PROMETHEUS / "prometheus.yml")["scrape_configs"]}
    for service, port in ports.items():
        (sd,) = jobs[service]["dns_sd_configs"]  # the alert rules select job=<service name>
        assert sd["names"] == [service] and sd["type"] == "A" and str(sd["port"]) == port
        assert f":{port}/" in " ".join(compose["services"][service]["healthcheck"]["test"])


# --- nginx ---------------------------------------------------------------------------------------


def template_vars() -> set[str]:
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", TEMPLATE.read_text()))


def test_compose_nginx_config_renders_and_passes_nginx_t(compose: Doc, tmp_path: Path) -> None:
    exe = tool("nginx", "apt-get install nginx-light")
    values = service_env(compose, "nginx")
    assert template_vars() <= values.keys(), f"no value for {sorted(template_vars() - values.keys())}"
    volume = "./nginx/nginx.conf.template:/etc/nginx/templates/nginx.conf.template:ro"
    assert volume in compose["services"]["nginx"]["volumes"] and values["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx"
    # Compose's host names do not resolve here, and the image's /tmp and /var/log/nginx are not ours.
    values["GATEWAY_SERVERS"] = re.sub(r"server [\w.-]+:", "server 127.0.0.1:", values["GATEWAY_SERVERS"])
    values["NGINX_RUN_DIR"] = values["NGINX_LOG_DIR"] = str(tmp_path)
    conf = render(values)
    assert "${" not in conf
    assert re.search(r"location = /metrics \{\s*return 404;", conf), "nginx must not expose /metrics"
    (tmp_path / "nginx.conf").write_text(conf)
    check([exe, "-t", "-q", "-c", str(tmp_path / "nginx.conf"), "-p", f"{tmp_path}/", "-e", str(tmp_path / "e.log")])


def test_compose_nginx_lists_every_gateway_replica(compose: Doc) -> None:
    # One server line per replica: the consistent hash puts server names, not addresses, on its ring.
    servers = re.findall(r"server ([\w.-]+):(\d+)", service_env(compose, "nginx")["GATEWAY_SERVERS"])
    replicas = compose["services"]["gateway"]["deploy"]["replicas"]
    port = service_env(compose, "gateway")["GATEWAY_PORT"]
    assert servers == [(f"{compose['name']}-gateway-{i}", port) for i in range(1, replicas + 1)]


def test_k8s_nginx_uses_the_same_template_and_every_gateway_pod(k8s: list[Doc]) -> None:
    configmap = find(k8s, "ConfigMap", "nginx-template")
    assert configmap["data"]["nginx.conf.template"] == TEMPLATE.read_text(), "copy nginx/nginx.conf.template"
    values = k8s_env(containers(find(k8s, "Deployment", "nginx"))[0])
    assert template_vars() <= values.keys(), f"no value for {sorted(template_vars() - values.keys())}"
    # SRV records of the headless Service: one upstream server (and one hash-ring name) per ready pod.
    match = re.search(r"server gateway\.\$\(POD_NAMESPACE\)\.svc\.cluster\.local service=(\w+) resolve",
                      values["GATEWAY_SERVERS"])
    assert match and "zone " in values["GATEWAY_SERVERS"] and "resolver " in values["GATEWAY_SERVERS"]
    service = find(k8s, "Service", "gateway")["spec"]
    assert service["clusterIP"] == "None" and match[1] in {p["name"] for p in service["ports"]}


# --- the processes' settings and lifecycles --------------------------------------------------------


def settings_names() -> set[str]:
    source = (ROOT / "services" / "settings.py").read_text()
    names = set(re.findall(r'(?:_get|env_int|env_float|env_bool|env_list)\(\s*env,\s*"([A-Z][A-Z0-9_]*)"', source))
    assert {"REDIS_URL", "GATEWAY_PORT", "METRICS_PORT"} <= names, "settings.py no longer reads as expected"
    # The redaction engine reads its own variables (services/redaction/engine.py).
    engine = (ROOT / "services" / "redaction" / "engine.py").read_text()
    engine_names = set(re.findall(r'env\.get\(\s*"(REDACTION_[A-Z0-9_]*)"', engine))
    assert "REDACTION_MARKER_HASH_KEY" in engine_names, "engine.py no longer reads as expected"
    # The ASR engine's variables (services/asr/loader.py).
    loader = (ROOT / "services" / "asr" / "loader.py").read_text()
    asr_names = set(re.findall(r'^(?:DECODERS_)?VARIABLE = "([A-Z0-9_]+)"', loader, re.M))
    assert asr_names == {"ASR_ENGINE", "ASR_DECODERS"}, "loader.py no longer reads as expected"
    return names | engine_names | asr_names


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


# --- images --------------------------------------------------------------------------------------


def dockerfile(name: str) -> list[str]:
    text = (DOCKER / name).read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics: the last pattern matching the path or one of its parents decides."""

    def regex(pattern: str) -> str:
        parts = re.split(r"(\*\*/?|\*|\?)", pattern.strip("/"))
        table = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
        return "".join(table.get(p, re.escape(p)) for p in parts)

    prefixes = ["/".join(path.split("/")[: i + 1]) for i in range(path.count("/") + 1)]
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if any(re.fullmatch(regex(pattern.lstrip("!")), p) for p in prefixes):
            result = not negated
    return result


@pytest.mark.parametrize(("name", "extra"), [("gateway.Dockerfile", "gateway"), ("worker.Dockerfile", "redaction")])
def test_images_install_their_extra_only_and_run_as_non_root(name: str, extra: str) -> None:
    lines = dockerfile(name)
    assert all(line.split()[1] in {"python:3.11-slim", "base"} for line in lines if line.startswith("FROM"))
    assert re.fullmatch(r"USER [1-9]\d*(:\d+)?", [line for line in lines if line.startswith("USER")][-1])
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", "\n".join(lines), re.M))
    # Run the image's own dependency step against pyproject.toml and compare with what the extra says.
    match = re.search(r"python -c '([^']+)' (\S+) > requirements\.txt", "\n".join(lines))
    assert match, "the step that reads dependencies from pyproject.toml has changed"
    arg = re.sub(r'^"?\$\{?(\w+)\}?"?$', lambda m: args[m[1]], match[2])
    assert arg == extra
    output = check([sys.executable, "-c", match[1], arg]).split("\n")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert [r for r in output if r] == project["dependencies"] + project["optional-dependencies"][extra]
    assert not [r for r in output if HEAVY.match(r)], f"{name} would install a model stack"
    # Everything the image copies exists and is not left out of the build context by .dockerignore.
    patterns = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p and not p.startswith("#")]
    assert ignored(".venv/bin/python", patterns) and ignored(".git/HEAD", patterns)
    for line in lines:
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                files = [p for p in (ROOT / source).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
                files = files or [ROOT / source]
                kept = [f for f in files if f.exists() and not ignored(str(f.relative_to(ROOT)), patterns)]
                assert kept == files, f"{name}: {source} is missing or excluded by .dockerignore"

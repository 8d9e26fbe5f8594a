"""Static checks of the deployment files (no Docker engine, no cluster): schemas, KEDA, Prometheus rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from services.bus import keys
from tests.deploy.files import (
    COMPOSE,
    K8S,
    KEDA,
    PROMETHEUS,
    Doc,
    check,
    containers,
    find,
    load_yaml,
    run,
    tool,
)

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
    "address",
    "host",
    "port",
    "addressFromEnv",
    "hostFromEnv",
    "portFromEnv",
    "usernameFromEnv",
    "passwordFromEnv",
    "stream",
    "consumerGroup",
    "pendingEntriesCount",
    "streamLength",
    "lagCount",
    "activationLagCount",
    "databaseIndex",
    "enableTLS",
    "unsafeSsl",
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
                **{
                    k: INT
                    for k in (
                        "pollingInterval",
                        "cooldownPeriod",
                        "initialCooldownPeriod",
                        "idleReplicaCount",
                        "minReplicaCount",
                        "maxReplicaCount",
                    )
                },
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
                        "then": {
                            "properties": {
                                "metadata": {
                                    "required": ["stream", "consumerGroup"],
                                    "propertyNames": {"enum": REDIS_STREAMS_KEYS},
                                }
                            }
                        },
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
        assert meta["stream"] == keys.request_stream("redaction", 0)
        assert meta["consumerGroup"] == keys.group_name("redaction")
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
    {
        "input_series": [
            {"series": 'gateway_redis_up{job="gateway",instance="g1"}', "values": "0x10"},
            {"series": 'gateway_redis_up{job="gateway",instance="g2"}', "values": "0x10"},
            {"series": 'up{job="gateway",instance="g1"}', "values": "1x10"},
        ],
        "alert_rule_test": [alert("RedisDown", severity="critical", at="5m"), alert("NoGatewayUp", at="5m")],
    },
    # One gateway still reaches Redis: that one is a gateway problem, not a Redis outage.
    {
        "input_series": [
            {"series": 'gateway_redis_up{job="gateway",instance="g1"}', "values": "0x10"},
            {"series": 'gateway_redis_up{job="gateway",instance="g2"}', "values": "1x10"},
        ],
        "alert_rule_test": [
            alert("RedisDown", at="5m"),
            alert("GatewayRedisUnreachable", severity="warning", instance="g1", **GW, at="5m"),
            alert("NoGatewayUp", severity="critical", at="5m"),
        ],
    },
    # Pending entries and no request handled: stuck. The same entries while workers do handle: not stuck.
    {
        "input_series": [{"series": PENDING, "values": "5x30"}, {"series": HANDLED, "values": "100x30"}],
        "alert_rule_test": [
            alert("PendingEntriesStuck", severity="critical", stream="req:{redaction.0}", group="redaction", at="20m")
        ],
    },
    {
        "input_series": [{"series": PENDING, "values": "5x30"}, {"series": HANDLED, "values": "0+60x30"}],
        "alert_rule_test": [alert("PendingEntriesStuck", at="20m")],
    },
]


def test_alert_rules_fire_when_they_should(tmp_path: Path) -> None:
    exe = tool("promtool", "apt-get install prometheus (Debian's package ships promtool)")
    # Annotations are prose for people; comparing them would only test their wording.
    rules = load_yaml(PROMETHEUS / "alerts.yml")
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", **t} for t in RULE_TESTS],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    proc = run([exe, "test", "rules", "tests.yml"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr

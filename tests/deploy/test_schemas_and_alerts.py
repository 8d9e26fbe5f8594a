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


# KEDA's CRDs are not in kubernetes-validate (test_keda_crd_schema.py checks KEDA's own schema, which
# lets unknown fields pass). This covers the fields the ScaledObject uses, rejects unknown ones (a typo is
# silently ignored by KEDA), and requires strings in trigger metadata as KEDA does.
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
REDIS_LIST_KEYS = ["address", "host", "port", "databaseIndex", "listName", "listLength", "activationListLength"]
REDIS_LIST_KEYS += ["enableTLS", "unsafeSsl", "addressFromEnv", "hostFromEnv", "portFromEnv", "passwordFromEnv"]
PROMETHEUS_KEYS = ["serverAddress", "query", "threshold", "activationThreshold", "namespace", "customHeaders"]
PROMETHEUS_KEYS += ["ignoreNullValues", "unsafeSsl", "queryParameters", "timeout"]


def _trigger(kind: str, required: list[str], names: list[str]) -> Doc:
    return {
        "if": {"properties": {"type": {"const": kind}}},
        "then": {"properties": {"metadata": {"required": required, "propertyNames": {"enum": names}}}},
    }


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
                        "allOf": [
                            _trigger("redis-streams", ["stream", "consumerGroup"], REDIS_STREAMS_KEYS),
                            _trigger("redis", ["listName", "listLength"], REDIS_LIST_KEYS),
                            _trigger("prometheus", ["serverAddress", "query", "threshold"], PROMETHEUS_KEYS),
                        ],
                        "properties": {
                            "type": {"enum": ["redis-streams", "redis", "prometheus"]},
                            "name": {"type": "string"},
                            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                            "authenticationRef": {"type": "object"},
                            "metricType": {"enum": ["AverageValue", "Value"]},
                        },
                    },
                },
            },
        },
    },
}


def test_keda_scaled_objects_match_their_schema(tmp_path: Path) -> None:
    exe = tool("check-jsonschema", ".venv/bin/pip install check-jsonschema")
    schema = tmp_path / "scaledobject.schema.json"
    schema.write_text(json.dumps(KEDA_SCHEMA))
    assert len(KEDA) == 5  # one for every pool
    check([exe, "--schemafile", str(schema), *map(str, KEDA)])


def test_every_pool_scales_on_its_own_signal(k8s: list[Doc]) -> None:
    redis_port = find(k8s, "Service", "redis")["spec"]["ports"][0]["port"]
    address = rf"redis\.[a-z0-9-]+\.svc\.cluster\.local:{redis_port}"
    scaled = {load_yaml(path)["spec"]["scaleTargetRef"]["name"]: load_yaml(path) for path in KEDA}
    assert set(scaled) == {f"worker-{pool}" for pool in ("redaction", "kb", "asr", "voice", "batch")}
    hpas = {d["spec"]["scaleTargetRef"]["name"] for d in k8s if d["kind"] == "HorizontalPodAutoscaler"}
    for name, obj in scaled.items():
        target = find(k8s, "Deployment", name)  # the Deployment exists...
        spec = obj["spec"]
        assert 0 < spec["minReplicaCount"] <= spec["maxReplicaCount"]
        assert name not in hpas or name == "worker-redaction"  # ...and no HPA of ours fights KEDA's (see its file)
        pool = name.removeprefix("worker-")
        for trigger in spec["triggers"]:
            meta = trigger["metadata"]
            if trigger["type"] == "redis-streams":  # stateless pools: their consumer group's backlog
                assert containers(target)[0]["command"][-2:] == ["workers", pool]
                assert meta["stream"] == keys.request_stream(pool, 0)
                assert meta["consumerGroup"] == keys.group_name(pool)
                assert re.fullmatch(address, meta["address"]), meta
            elif trigger["type"] == "redis":  # Celery: its queue's list under the batch key prefix
                assert meta["listName"] == keys.BATCH_KEY_PREFIX + keys.BATCH_JOBS_QUEUE
                assert re.fullmatch(address, meta["address"]), meta
            else:  # streaming pools: sessions held against a share of each worker's capacity
                assert meta["query"] == f'sum(worker_sessions_active{{capability="{pool}"}})'
                env = {e["name"]: e.get("value") for e in containers(target)[0].get("env", [])}
                capacity = int(env.get("SESSION_CAPACITY") or 16)
                assert 0 < float(meta["threshold"]) < capacity


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
    # Streaming pools: two asr workers hold 15 of 16 sessions each (94%): near capacity; voice at half: not.
    {
        "input_series": [
            *(
                {
                    "series": f'worker_sessions_active{{capability="asr",job="worker-asr",instance="{w}"}}',
                    "values": "15x10",
                }
                for w in ("a1", "a2")
            ),
            *(
                {
                    "series": f'worker_session_capacity{{capability="asr",job="worker-asr",instance="{w}"}}',
                    "values": "16x10",
                }
                for w in ("a1", "a2")
            ),
            {
                "series": 'worker_sessions_active{capability="voice",job="worker-voice",instance="v1"}',
                "values": "16x10",
            },
            {
                "series": 'worker_session_capacity{capability="voice",job="worker-voice",instance="v1"}',
                "values": "32x10",
            },
            {"series": 'up{job="worker-redaction",instance="r1"}', "values": "1x10"},
            {"series": 'up{job="worker-asr",instance="a1"}', "values": "1x10"},
        ],
        "alert_rule_test": [
            alert("SessionsNearCapacity", severity="warning", capability="asr", at="6m"),
            # Every pool without a live worker is named; redaction and asr have one.
            {
                "alertname": "WorkerPoolDown",
                "eval_time": "3m",
                "exp_alerts": [{"exp_labels": {"severity": "critical", "pool": p}} for p in ("voice", "kb", "batch")],
            },
        ],
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

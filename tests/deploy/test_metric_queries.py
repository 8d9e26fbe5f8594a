"""Every dashboard and alert query names a metric the code exports; the scrape config reaches every replica."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from prometheus_client.metrics import MetricWrapperBase

from services import metrics
from services.hot_metrics import HOT, HistogramFamily
from tests.deploy.files import (
    GRAFANA,
    PROMETHEUS,
    ROOT,
    Doc,
    app_services,
    load_yaml,
    service_env,
)

# --- queries name real metrics ---------------------------------------------------------------------

KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
}


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

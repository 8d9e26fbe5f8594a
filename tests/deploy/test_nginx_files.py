"""The nginx template as compose and Kubernetes render it."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.render_nginx import TEMPLATE, render
from tests.deploy.files import (
    Doc,
    check,
    containers,
    find,
    k8s_env,
    service_env,
    tool,
)

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
    match = re.search(
        r"server gateway\.\$\(POD_NAMESPACE\)\.svc\.cluster\.local service=(\w+) resolve", values["GATEWAY_SERVERS"]
    )
    assert match and "resolver " in values["GATEWAY_SERVERS"]
    # `resolve` needs a shared-memory zone in each upstream the servers are used in: the template has them.
    assert TEMPLATE.read_text().count("        zone ") == 2 and "zone " not in values["GATEWAY_SERVERS"]
    service = find(k8s, "Service", "gateway")["spec"]
    assert service["clusterIP"] == "None" and match[1] in {p["name"] for p in service["ports"]}

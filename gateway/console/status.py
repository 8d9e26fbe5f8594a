"""This gateway's own figures for the console's status strip, from the process's metrics.

Counts are cumulative since the process started; the page polls and turns the difference between two
samples of one gateway into requests per second and a p95 over that interval.
"""

from __future__ import annotations

from typing import Any

from gateway.state import GatewayState
from services import metrics

# Listed from the start (at zero), so the strip shows every capability before its first request.
CAPABILITIES = ("redaction", "asr", "voice", "voice_requests", "kb")


def latency_summary() -> dict[str, dict[str, Any]]:
    """Requests per capability: count and cumulative histogram buckets (upper bounds in seconds)."""
    out: dict[str, dict[str, Any]] = {c: {"count": 0, "bounds": [], "cumulative": []} for c in CAPABILITIES}
    for (capability,), child in list(metrics.REQUEST_SECONDS.children.items()):
        cumulative, running = [], 0
        for count in child.counts:
            running += count
            cumulative.append(running)
        out[capability] = {"count": running, "bounds": list(child.bounds), "cumulative": cumulative}
    return out  # kb: questions answered, from the question to end_response


def open_connections() -> dict[str, int]:
    return {
        sample.labels["protocol"]: int(sample.value)
        for family in metrics.CONNECTIONS_OPEN.collect()
        for sample in family.samples
    }


def summary(state: GatewayState) -> dict[str, Any]:
    return {
        "gateway": state.settings.gateway_id,
        "ready": state.ready,
        "draining": state.draining,
        "connections": open_connections(),
        "requests": latency_summary(),
    }

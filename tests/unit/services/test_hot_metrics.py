"""Hot-path metrics export exactly like prometheus-client's own counters and histograms."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from services.hot_metrics import HotMetrics


def _render(hot: HotMetrics) -> str:
    registry = CollectorRegistry()
    registry.register(hot)
    return generate_latest(registry).decode()


def test_counter_exports_total_per_label_set() -> None:
    hot = HotMetrics()
    family = hot.counter("demo_messages_total", "Messages", ["direction"])
    family.labels("in").inc()
    family.labels("in").inc(2)
    family.labels("out").inc()
    text = _render(hot)
    assert 'demo_messages_total{direction="in"} 3.0' in text
    assert 'demo_messages_total{direction="out"} 1.0' in text
    assert "# TYPE demo_messages_total counter" in text


def test_histogram_buckets_are_cumulative_and_inclusive() -> None:
    hot = HotMetrics()
    latency = hot.histogram("demo_seconds", "Latency", ["capability"], (0.01, 0.1, 1.0)).labels("x")
    for value in (0.005, 0.01, 0.05, 0.5, 5.0):
        latency.observe(value)
    text = _render(hot)
    assert 'demo_seconds_bucket{capability="x",le="0.01"} 2.0' in text  # 0.01 itself counts as <= 0.01
    assert 'demo_seconds_bucket{capability="x",le="0.1"} 3.0' in text
    assert 'demo_seconds_bucket{capability="x",le="1.0"} 4.0' in text
    assert 'demo_seconds_bucket{capability="x",le="+Inf"} 5.0' in text
    assert 'demo_seconds_count{capability="x"} 5.0' in text
    total = next(line for line in text.splitlines() if line.startswith("demo_seconds_sum"))
    assert abs(float(total.rsplit(" ", 1)[1]) - 5.565) < 1e-9


def test_wrong_label_count_is_refused() -> None:
    hot = HotMetrics()
    family = hot.counter("demo_total", "x", ["a", "b"])
    try:
        family.labels("only-one")
    except ValueError as exc:
        assert "demo_total" in str(exc)
    else:
        raise AssertionError("a wrong label count was accepted")

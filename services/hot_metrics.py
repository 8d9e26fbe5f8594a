"""Counters and histograms for the per-message hot path, exported through a prometheus-client collector.

prometheus-client takes a lock on every increment and walks the buckets in Python on every
observation: a few microseconds a message, a noticeable share of a relay's budget. These metrics are
plain numbers updated by a single writer (the event loop, or the one engine thread a worker runs at a
time) and read by the exporter, which is all a counter needs. They appear in /metrics exactly as the
library's own counters and histograms do.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from prometheus_client.core import REGISTRY, CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

Child = TypeVar("Child", "HotCounter", "HotHistogram")


class HotCounter:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class HotHistogram:
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        # bisect_left finds the first bound >= value: Prometheus buckets are "less than or equal".
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value


class _Family(Generic[Child]):
    def __init__(self, name: str, doc: str, labelnames: Sequence[str], new_child: Callable[[], Child]) -> None:
        self.name = name
        self.doc = doc
        self.labelnames = tuple(labelnames)
        self.children: dict[tuple[str, ...], Child] = {}
        self._new_child: Callable[[], Child] = new_child

    def labels(self, *values: str) -> Child:
        """The child for these label values; bind it once and keep it, as with prometheus-client."""
        child = self.children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
            child = self.children[values] = self._new_child()
        return child


class CounterFamily(_Family[HotCounter]):
    def __init__(self, name: str, doc: str, labelnames: Sequence[str]) -> None:
        super().__init__(name, doc, labelnames, HotCounter)

    def export(self) -> Metric:
        # The family name is given without _total; the library appends it to each sample.
        family = CounterMetricFamily(self.name.removesuffix("_total"), self.doc, labels=self.labelnames)
        for values, child in list(self.children.items()):
            family.add_metric(list(values), child.value)
        return family


class HistogramFamily(_Family[HotHistogram]):
    def __init__(self, name: str, doc: str, labelnames: Sequence[str], buckets: Sequence[float]) -> None:
        bounds = tuple(buckets)
        super().__init__(name, doc, labelnames, lambda: HotHistogram(bounds))

    def export(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.doc, labels=self.labelnames)
        for values, child in list(self.children.items()):
            counts = list(child.counts)
            cumulative, running = [], 0
            for bound, count in zip((*map(_le, child.bounds), "+Inf"), counts, strict=True):
                running += count
                cumulative.append((bound, float(running)))
            family.add_metric(list(values), cumulative, child.total)
        return family


def _le(bound: float) -> str:
    return repr(float(bound))


class HotMetrics(Collector):
    def __init__(self) -> None:
        self.families: list[CounterFamily | HistogramFamily] = []

    def counter(self, name: str, doc: str, labelnames: Sequence[str]) -> CounterFamily:
        family = CounterFamily(name, doc, labelnames)
        self.families.append(family)
        return family

    def histogram(self, name: str, doc: str, labelnames: Sequence[str], buckets: Sequence[float]) -> HistogramFamily:
        family = HistogramFamily(name, doc, labelnames, buckets)
        self.families.append(family)
        return family

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield family.export()


HOT = HotMetrics()
REGISTRY.register(HOT)

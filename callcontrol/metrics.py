"""A small Prometheus registry (text exposition format 0.0.4), no external dependency.

Build one `Registry` per application (no module-level singleton) with
`product_registry()`; other parts look metrics up by name and only increment them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: tuple[str, ...], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass
class _Metric:
    name: str
    help: str
    labelnames: tuple[str, ...] = ()
    kind: str = "untyped"

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        # on every increment (17 a call): no sets, no generator
        names = self.labelnames
        if len(labels) == len(names):
            if not names:
                return ()
            try:
                return tuple([str(labels[n]) for n in names])
            except KeyError:
                pass
        raise ValueError(f"{self.name} takes labels {names}, got {tuple(labels)}")

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


@dataclass
class Counter(_Metric):
    kind: str = "counter"
    values: dict[tuple[str, ...], float] = field(default_factory=dict)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        self.values[key] = self.values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self.values.get(self._key(labels), 0.0)

    def render(self) -> list[str]:
        rows = self.values or ({(): 0.0} if not self.labelnames else {})
        return self.header() + [
            f"{self.name}{_labels(self.labelnames, k)} {_number(v)}"
            for k, v in sorted(rows.items())
        ]


@dataclass
class Gauge(Counter):
    kind: str = "gauge"

    def set(self, value: float, **labels: str) -> None:
        self.values[self._key(labels)] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        self.values[key] = self.values.get(key, 0.0) + amount

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self.inc(-amount, **labels)


@dataclass
class Histogram(_Metric):
    kind: str = "histogram"
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    series: dict[tuple[str, ...], list[float]] = field(default_factory=dict)

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        # per series: one count per bucket, then +Inf count, then sum
        row = self.series.setdefault(key, [0.0] * (len(self.buckets) + 2))
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                row[i] += 1
        row[-2] += 1
        row[-1] += value

    def render(self) -> list[str]:
        lines = self.header()
        rows = self.series or ({(): [0.0] * (len(self.buckets) + 2)} if not self.labelnames else {})
        for key, row in sorted(rows.items()):
            for bound, count in zip((*self.buckets, math.inf), row[:-1], strict=True):
                le = _labels(self.labelnames, key, f'le="{_number(bound)}"')
                lines.append(f"{self.name}_bucket{le} {_number(count)}")
            lab = _labels(self.labelnames, key)
            lines.append(f"{self.name}_sum{lab} {_number(row[-1])}")
            lines.append(f"{self.name}_count{lab} {_number(row[-2])}")
        return lines


class Registry:
    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def register(self, metric: _Metric) -> _Metric:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} already registered")
        self._metrics[metric.name] = metric
        return metric

    def __getitem__(self, name: str) -> _Metric:
        return self._metrics[name]

    def counter(self, name: str) -> Counter:
        metric = self._metrics[name]
        assert isinstance(metric, Counter)
        return metric

    def histogram(self, name: str) -> Histogram:
        metric = self._metrics[name]
        assert isinstance(metric, Histogram)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics.values():
            lines.extend(metric.render())  # type: ignore[attr-defined]
        return "\n".join(lines) + "\n"


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def product_registry() -> Registry:
    """A registry with every callcontrol metric pre-registered."""
    reg = Registry()
    reg.register(Counter("callcontrol_calls_total", "Calls handled.", ("direction", "outcome")))
    reg.register(Gauge("callcontrol_calls_active", "Calls in progress."))
    reg.register(Counter("callcontrol_pops_total", "Screen pops sent to agents."))
    reg.register(Histogram("callcontrol_pop_latency_seconds",
                           "Time from StasisStart to screen pop delivered."))
    reg.register(Gauge("callcontrol_agents", "Agents by state.", ("state",)))
    reg.register(Gauge("callcontrol_ari_connected", "1 when the ARI websocket is connected."))
    reg.register(Counter("callcontrol_ari_reconnects_total", "ARI websocket reconnects."))
    reg.register(Counter("callcontrol_http_requests_total", "HTTP requests.", ("method", "status")))
    reg.register(Counter("callcontrol_agi_requests_total", "FastAGI requests.", ("outcome",)))
    return reg

import re

import pytest

from callcontrol.metrics import product_registry
from callcontrol.web.secrets import SecretBox, SecretError, mask

SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
                    r'(-?[0-9.e+]+|\+Inf|-Inf|NaN)$')


def parse(text: str) -> dict[str, float]:
    samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        assert SAMPLE.match(line), line
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return samples


def test_product_metrics_render_as_prometheus_text_and_count():
    reg = product_registry()
    reg.counter("callcontrol_http_requests_total").inc(method="GET", status="200")
    reg.counter("callcontrol_http_requests_total").inc(method="GET", status="200")
    reg.histogram("callcontrol_pop_latency_seconds").observe(0.2)
    samples = parse(reg.render())
    assert samples['callcontrol_http_requests_total{method="GET",status="200"}'] == 2
    assert samples['callcontrol_pop_latency_seconds_bucket{le="0.25"}'] == 1
    assert samples['callcontrol_pop_latency_seconds_bucket{le="0.1"}'] == 0
    assert samples["callcontrol_pop_latency_seconds_count"] == 1
    assert samples["callcontrol_ari_connected"] == 0


def test_wrong_labels_are_refused():
    reg = product_registry()
    with pytest.raises(ValueError):
        reg.counter("callcontrol_calls_total").inc(direction="in")


def test_secret_round_trips_and_another_key_cannot_read_it():
    token = SecretBox(b"k" * 32).encrypt("asterisk-pw")
    assert "asterisk-pw" not in token
    assert SecretBox(b"k" * 32).decrypt(token) == "asterisk-pw"
    with pytest.raises(SecretError):
        SecretBox(b"x" * 32).decrypt(token)
    assert mask("asterisk-pw") == "••••••" and mask("") == ""

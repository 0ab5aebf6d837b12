"""Traffic simulator pieces without a server: the lagged view, the PromQL subset and the
Prometheus value format."""
import re

import pytest

from clusters.simulator.traffic import promql
from clusters.simulator.traffic.faults import MetricFault, MetricFaults
from clusters.simulator.traffic.prometheus import BadData, parse_time
from clusters.simulator.traffic.state import Lagged, PodView


def test_lagged_value_shows_changes_only_after_their_lag():
    value = Lagged(True)  # known from the start: visible at once
    assert value.visible(0.0, lambda v: 5) is True
    value.set(False, 10.0)
    value.set(True, 11.0)  # back before the first change showed
    value.set(False, 12.0)
    lag = lambda v: 3.0 if v is False else 0.0  # noqa: E731 - heartbeat-like: down late, up at once
    assert value.visible(12.9, lag) is True  # the True of 11.0 already shows; neither False yet
    assert value.visible(13.0, lag) is True  # False of 10.0 passed but True of 11.0 is newer
    assert value.visible(15.0, lag) is False
    assert value.changes == [(12.0, False)]  # older changes dropped once they cannot show again


def _pod(**fields) -> PodView:
    return PodView("c", "ns", "p", "uid", ip="10.0.0.1", ready=True, containers_ready=True, **fields)


def test_a_pod_serves_only_when_ready_with_ready_containers_and_not_terminating():
    assert _pod().serving and _pod().not_serving_reason() == ""
    assert _pod(terminating=True).not_serving_reason() == "pod terminating"
    pod = _pod()
    pod.ready = False
    assert pod.not_serving_reason() == "pod not ready"
    pod = _pod()
    pod.containers_ready = False
    assert not pod.serving and pod.not_serving_reason() == "container not ready"


SAMPLES = [({"__name__": "m", "pod": "a", "image": "x:1"}, 1.0), ({"__name__": "m", "pod": "b", "image": "x:2"}, 3.0),
           ({"__name__": "m", "pod": "c", "image": "x:2"}, 5.0), ({"__name__": "up", "pod": "a"}, 1.0)]


@pytest.mark.parametrize(("query", "expected"), [
    ('m{pod="a"}', [({"__name__": "m", "pod": "a", "image": "x:1"}, 1.0)]),
    ('m{pod!="a",image="x:2"}', [(SAMPLES[1][0], 3.0), (SAMPLES[2][0], 5.0)]),
    ('m{pod=~"a|c"}', [(SAMPLES[0][0], 1.0), (SAMPLES[2][0], 5.0)]),
    ('m{pod=~"a"}', [(SAMPLES[0][0], 1.0)]),  # anchored: "a" does not match "ab"
    ('m{pod!~"a|b"}', [(SAMPLES[2][0], 5.0)]),
    ('{pod="a"}', [(SAMPLES[0][0], 1.0), (SAMPLES[3][0], 1.0)]),
    ("sum(m)", [({}, 9.0)]), ("avg(m)", [({}, 3.0)]), ("max(m)", [({}, 5.0)]), ("min(m)", [({}, 1.0)]),
    ("count(m)", [({}, 3.0)]),
    ("sum by (image) (m)", [({"image": "x:1"}, 1.0), ({"image": "x:2"}, 8.0)]),
    ("max(m) by (image)", [({"image": "x:1"}, 1.0), ({"image": "x:2"}, 5.0)]),
    ("count without (pod) (m)", [({"image": "x:1"}, 1.0), ({"image": "x:2"}, 2.0)]),
    ("m > 2", [(SAMPLES[1][0], 3.0), (SAMPLES[2][0], 5.0)]),
    ("4 < m", [(SAMPLES[2][0], 5.0)]),
    ("max(m) >= 5", [({}, 5.0)]), ("max(m) < 5", []),
    ("(sum(m)) <= bool 5", [({}, 0.0)]),
    ('sum(m{pod="none"})', []),
])
def test_promql_subset(query, expected):
    assert promql.evaluate(promql.parse(query), SAMPLES) == ("vector", expected)


@pytest.mark.parametrize(("query", "message"), [
    ("", "no expression found"), ("rate(m[5m])", "function 'rate'"), ("m[5m]", "range selectors"),
    ('{pod=~".*"}', "non-empty matcher"), ('m{pod=~"("}', "invalid regular expression"), ("sum(m", "expected ')'"),
    ("m + m", "unexpected '+'"), ("m > m", "two vectors"), ("1 < 2", "BOOL"), ("topk(2, m)", "'topk'"),
    ("sum(m, m)", "one argument"), ("m offset 5m", "offset"), ('m{pod="a" image="b"}', "expected '}'"),
    ("m{pod}", "label matching"), ("sum by (pod) (m) by (pod)", "twice"), ("x" * 4001, "too long"),
    ("m{pod='\\q'}", "escape"), ("m ; drop", "unexpected character"),
])
def test_promql_refuses_what_it_does_not_support(query, message):
    with pytest.raises(promql.PromQLError, match=re.escape(message)):
        promql.evaluate(promql.parse(query), SAMPLES)


def test_values_and_times_as_prometheus_writes_and_reads_them():
    assert [promql.format_value(v) for v in (2.0, 0.5, 1e-05, float("inf"), float("nan"), -3.25)] == \
        ["2", "0.5", "0.00001", "+Inf", "NaN", "-3.25"]
    assert parse_time("1700000000.5") == 1700000000.5
    assert parse_time("2023-11-14T22:13:20Z") == 1700000000.0
    for bad in ("yesterday", "nan", "inf"):
        with pytest.raises(BadData, match='invalid parameter "time"'):
            parse_time(bad)


def test_metric_faults_match_image_substrings():
    faults = MetricFaults()
    faults.add(MetricFault("shop:v2", error_ratio=0.4))
    assert faults.for_images(["sidecar:1", "registry.local/shop:v2"]).error_ratio == 0.4
    assert faults.for_image("shop:v1") is None
    faults.add(MetricFault("shop:v2", latency_seconds=2.0))  # the same image: replaced
    assert faults.to_list() == [{"image": "shop:v2", "error_ratio": None, "latency_seconds": 2.0}]

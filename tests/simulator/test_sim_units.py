"""Unit tests of the simulator's pure parts (no server): patch formats, quantities, tables."""
import pytest

from clusters.simulator import quantity
from clusters.simulator.errors import ApiError
from clusters.simulator.patching import json_patch, merge_patch, strategic_merge_patch
from clusters.simulator.selectors import from_label_selector_object, parse_label_selector
from clusters.simulator.tables import human_duration, json_path


def test_merge_patch_rfc7386_examples():
    target = {"a": "b", "c": {"d": "e", "f": "g"}}
    assert merge_patch(target, {"a": "z", "c": {"f": None}}) == {"a": "z", "c": {"d": "e"}}
    assert merge_patch({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}


def test_strategic_merge_directives():
    original = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}],
                         "tolerations": [{"key": "x"}]},
                "metadata": {"finalizers": ["f1"]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                      "containers": [{"name": "a", "image": "3"}], "tolerations": [{"key": "y"}]},
             "metadata": {"finalizers": ["f2"], "$deleteFromPrimitiveList/finalizers": ["f1"]}}
    result = strategic_merge_patch(original, patch, "pods")
    assert result["spec"]["containers"] == [{"name": "b", "image": "2"}, {"name": "a", "image": "3"}]
    assert result["spec"]["tolerations"] == [{"key": "y"}]  # no merge key: replaced
    assert result["metadata"]["finalizers"] == ["f2"]
    replaced = strategic_merge_patch({"spec": {"selector": {"a": "1", "b": "2"}}},
                                     {"spec": {"selector": {"$patch": "replace", "c": "3"}}}, "services")
    assert replaced == {"spec": {"selector": {"c": "3"}}}
    retained = strategic_merge_patch({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
                                     {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
                                     "deployments.apps")
    assert retained == {"spec": {"strategy": {"type": "Recreate"}}}


def test_service_and_container_ports_merge_keys():
    svc = strategic_merge_patch({"spec": {"ports": [{"port": 80, "name": "http"}]}},
                                {"spec": {"ports": [{"port": 443, "name": "https"}]}}, "services")
    assert [p["port"] for p in svc["spec"]["ports"]] == [80, 443]
    pod = strategic_merge_patch(
        {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}], "env": [{"name": "X", "value": "1"}]}]}},
        {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 81}], "env": [{"name": "X", "value": "2"}]}]}},
        "pods")
    container = pod["spec"]["containers"][0]
    assert [p["containerPort"] for p in container["ports"]] == [80, 81]
    assert container["env"] == [{"name": "X", "value": "2"}]


def test_json_patch_operations_and_errors():
    doc = {"a": {"b": [1, 2]}, "c": 1}
    out = json_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 3}, {"op": "move", "from": "/c", "path": "/d"},
                           {"op": "copy", "from": "/a/b", "path": "/e"}, {"op": "remove", "path": "/a/b/0"}])
    assert out == {"a": {"b": [2, 3]}, "d": 1, "e": [1, 2, 3]}
    with pytest.raises(ApiError) as err:
        json_patch({"a": 1}, [{"op": "replace", "path": "/missing", "value": 1}])
    assert err.value.code == 422


def test_quantities():
    assert quantity.parse("100m") + quantity.parse("0.9") == 1
    assert quantity.parse("1Gi") == 1024 ** 3 and quantity.parse("1e3") == 1000 and quantity.parse("1k") == 1000
    assert quantity.format_cpu(quantity.parse("1500m")) == "1500m" and quantity.format_cpu(quantity.parse("2")) == "2"
    assert quantity.format_bytes(quantity.parse("512Mi")) == "512Mi"
    with pytest.raises(ValueError):
        quantity.parse("lots")


def test_selector_objects():
    selector = from_label_selector_object({"matchLabels": {"app": "x"},
                                           "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]})
    assert selector.matches({"app": "x", "tier": "web"}) and not selector.matches({"app": "x", "tier": "db"})
    assert str(parse_label_selector("a in (y,x)")) == "a in (x,y)"


def test_human_duration_and_json_path():
    assert [human_duration(s) for s in (5, 130, 601, 4000, 20000, 90000)] == ["5s", "2m10s", "10m", "66m", "5h33m", "25h"]
    obj = {"status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]}}
    assert json_path(obj, '.status.conditions[?(@.type=="Ready")].status') == "True"
    assert json_path(obj, ".status.conditions[0].type") == "A"

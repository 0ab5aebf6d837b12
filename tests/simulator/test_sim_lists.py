"""Label and field selectors, limit/continue pagination."""
import pytest
from kubernetes import client

from . import api_client_fixture, apps_fixture, core_fixture, kubesim_fixture, namespace_fixture, wait_for  # noqa: F401


@pytest.fixture
def labelled(core, namespace):
    specs = {
        "a": {"app": "web", "env": "prod"},
        "b": {"app": "web", "env": "dev"},
        "c": {"app": "db", "env": "prod", "legacy": "true"},
        "d": {"app": "cache"},
    }
    for name, labels in specs.items():
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name, labels=labels)))
    return namespace


@pytest.mark.parametrize("selector, expected", [
    ("app=web", "ab"),
    ("app==web,env=prod", "a"),
    ("app!=web", "cd"),
    ("env in (prod, dev)", "abc"),
    ("env notin (prod)", "bd"),
    ("legacy", "c"),
    ("!legacy", "abd"),
    ("app=web,!legacy,env", "ab"),
    ("app=nothing", ""),
])
def test_label_selectors(core, labelled, selector, expected):
    names = [c.metadata.name for c in core.list_namespaced_config_map(labelled, label_selector=selector).items]
    assert "".join(names) == expected


def test_bad_label_selector_is_400(core, labelled):
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_config_map(labelled, label_selector="app in (web")
    assert err.value.status == 400


def test_field_selectors(core, labelled):
    assert [c.metadata.name for c in core.list_namespaced_config_map(
        labelled, field_selector="metadata.name=b").items] == ["b"]
    assert [c.metadata.name for c in core.list_namespaced_config_map(
        labelled, field_selector="metadata.name!=b").items] == ["a", "c", "d"]
    across = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={labelled}",
                                                     label_selector="app=web")
    assert [c.metadata.name for c in across.items] == ["a", "b"]
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_config_map(labelled, field_selector="data.x=1")
    assert err.value.status == 400


def test_pod_field_selectors(core, namespace):
    for name in ("p1", "p2"):
        core.create_namespaced_pod(namespace, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36")])))

    def running():
        items = core.list_namespaced_pod(namespace, field_selector="status.phase=Running").items
        return items if len(items) == 2 else None

    pods = wait_for(running, message="pods running")
    node = pods[0].spec.node_name
    on_node = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node},metadata.namespace={namespace}")
    assert pods[0].metadata.name in [p.metadata.name for p in on_node.items]
    assert core.list_namespaced_pod(namespace, field_selector="status.phase=Pending").items == []


def test_limit_and_continue(core, namespace):
    for i in range(7):
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"cm-{i}")))
    seen, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_config_map(namespace, limit=3, _continue=token)
        seen += [c.metadata.name for c in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == 7 - len(seen)
    assert pages == 3 and seen == [f"cm-{i}" for i in range(7)]
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_config_map(namespace, limit=3, _continue="not-a-token")
    assert err.value.status == 400


def test_list_resource_version_is_current(core, namespace):
    created = core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x")))
    listed = core.list_namespaced_config_map(namespace)
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)

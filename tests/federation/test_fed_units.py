"""Pure units: placement, replica division, rendering, overrides and validation."""
from types import SimpleNamespace

import pytest

from clusters.federation import labels, placement, render, sensitive, validation
from clusters.federation.placement import ClusterInfo
from paas.errors import DomainError


def info(slug, cell, zone="z1", region="r1", weight=1, schedulable=True, bound=True, **extra):
    topo = {"paas.io/cluster": slug, "paas.io/cell": cell, "paas.io/zone": zone, "paas.io/region": region, **extra}
    return ClusterInfo(slug=slug, cell=cell, zone=zone, region=region, labels=topo, weight=weight,
                       schedulable=schedulable, bound=bound)


CLUSTERS = [info("a1", "cell-a", gpu="yes"), info("a2", "cell-a"), info("b1", "cell-b", zone="z2"),
            info("c1", "cell-c", zone="z3", bound=False)]
DEPLOYMENT = SimpleNamespace(api_version="apps/v1", kind="Deployment", has_replicas=True,
                             replicas_path="spec.replicas", namespaced=True)
CONFIGMAP = SimpleNamespace(api_version="v1", kind="ConfigMap", has_replicas=False, replicas_path="", namespaced=True)


def topology(clusters=CLUSTERS):
    return validation.Topology(clusters=list(clusters), environment="acme/prod", cells={"cell-a", "cell-b", "cell-c"},
                               zones={"z1", "z2", "z3"}, regions={"r1"})


def deployment(replicas=3):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "m", "image": "x:1"}]}}}}


# --- selection ----------------------------------------------------------------------

def test_candidates_are_bound_selected_and_schedulable():
    assert [c.slug for c in placement.candidates({}, CLUSTERS)] == ["a1", "a2", "b1"]
    assert [c.slug for c in placement.candidates({"cells": ["cell-b"], "clusters": ["a2"]}, CLUSTERS)] == ["a2", "b1"]
    assert [c.slug for c in placement.candidates({"zones": ["z3"]}, CLUSTERS)] == []  # c1 is not bound
    selector = {"labelSelector": {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}}
    assert [c.slug for c in placement.candidates(selector, CLUSTERS)] == ["a1"]
    cordoned = [info("a1", "cell-a", schedulable=False), *CLUSTERS[1:]]
    assert [c.slug for c in placement.candidates({}, cordoned)] == ["a2", "b1"]


def test_label_selector_operators():
    lbl = {"tier": "gold", "zone": "z1"}
    assert labels.matches({"matchLabels": {"tier": "gold"}}, lbl)
    assert not labels.matches({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["z1"]}]}, lbl)
    assert labels.matches({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, lbl)
    assert labels.matches({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1", "z2"]}]}, lbl)
    with pytest.raises(labels.SelectorError) as err:
        labels.check_selector({"matchExpressions": [{"key": "a", "operator": "Near"}]}, "p")
    assert err.value.path == "p.matchExpressions[0].operator"


# --- division -----------------------------------------------------------------------

def test_divided_by_cell_weights_splits_inside_the_cell():
    plan = placement.plan({"replicaScheduling": {"type": "Divided", "totalReplicas": 12,
                                                 "weights": {"cell-a": 2, "cell-b": 1}}},
                          CLUSTERS, template_replicas=3, has_replicas=True)
    assert plan.targets == {"a1": 4, "a2": 4, "b1": 4}
    plan = placement.plan({"replicaScheduling": {"type": "Divided", "totalReplicas": 9,
                                                 "weights": {"cell-a": 1, "b1": 2}}},
                          CLUSTERS, template_replicas=3, has_replicas=True)
    assert plan.targets == {"a1": 2, "a2": 1, "b1": 6}  # remainder to the larger fraction, then slug


def test_division_is_deterministic_and_exact():
    for total in range(0, 40):
        shares, unplaced = placement.divide(total, CLUSTERS[:3], weights={"a1": 3, "a2": 3, "b1": 1})
        assert sum(shares.values()) == total and unplaced == 0
        assert shares == placement.divide(total, list(reversed(CLUSTERS[:3])), weights={"a1": 3, "a2": 3, "b1": 1})[0]


def test_min_and_max_per_cluster():
    shares, unplaced = placement.divide(10, CLUSTERS[:3], weights={"a1": 1, "a2": 1, "b1": 1},
                                        minimum={"b1": 6}, maximum={"a1": 1})
    assert shares == {"a1": 1, "a2": 3, "b1": 6} and unplaced == 0
    shares, unplaced = placement.divide(10, CLUSTERS[:2], maximum={"a1": 2, "a2": 3})
    assert shares == {"a1": 2, "a2": 3} and unplaced == 5
    shares, _ = placement.divide(6, CLUSTERS[:3], weights={"cell-a": 1}, maximum={"cell-a": 2})
    assert shares == {"a1": 2, "a2": 2, "b1": 2}  # weights exhausted: the rest goes where there is room


def test_failed_cell_replicas_move_to_the_remaining_clusters():
    failed = [info("a1", "cell-a", schedulable=False), info("a2", "cell-a", schedulable=False), CLUSTERS[2]]
    scheduling = {"replicaScheduling": {"type": "Divided", "totalReplicas": 12, "weights": {"cell-a": 2}}}
    plan = placement.plan(scheduling, failed, template_replicas=1, has_replicas=True)
    assert plan.targets == {"b1": 12} and plan.unplaced == 0


def test_duplicated_and_kinds_without_replicas():
    assert placement.plan({}, CLUSTERS, template_replicas=3, has_replicas=True).targets == {"a1": 3, "a2": 3, "b1": 3}
    assert placement.plan({}, CLUSTERS, template_replicas=None, has_replicas=False).targets == {
        "a1": None, "a2": None, "b1": None}
    zero = {"replicaScheduling": {"type": "Divided", "totalReplicas": 0}}
    assert placement.plan(zero, CLUSTERS, template_replicas=1, has_replicas=True).targets == {"a1": 0, "a2": 0, "b1": 0}


# --- rendering ----------------------------------------------------------------------

def _render(template, overrides=(), cluster="a1", replicas=2):
    c = next(x for x in CLUSTERS if x.slug == cluster)
    return render.render(template, namespace="acme-prod", planned_replicas=replicas, replicas_path="spec.replicas",
                         overrides=list(overrides), cluster_slug=c.slug, cluster_labels=c.labels, resource_id=7,
                         generation=3, tenant_slug="acme", env_slug="prod")


def test_render_sets_namespace_replicas_and_managed_markers():
    template = deployment()
    template["metadata"].update(namespace="elsewhere", resourceVersion="12", uid="u")
    template["status"] = {"replicas": 1}
    obj = _render(template)
    assert obj["metadata"]["namespace"] == "acme-prod" and obj["spec"]["replicas"] == 2
    assert "status" not in obj and "resourceVersion" not in obj["metadata"]
    assert obj["metadata"]["labels"]["paas.io/managed-by"] == "paas-federation"
    assert obj["metadata"]["labels"]["paas.io/federated-resource"] == "7"
    assert obj["metadata"]["annotations"]["paas.io/generation"] == "3"
    assert template["metadata"]["namespace"] == "elsewhere"  # the template itself is untouched


def test_overrides_apply_only_to_selected_clusters_in_order():
    overrides = [
        {"clusters": ["a1"], "operations": [
            {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "x:2"},
            {"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "A", "value": "1"}]},
            {"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "B", "value": "2"}}]},
        {"clusterSelector": {"matchLabels": {"paas.io/zone": "z2"}},
         "operations": [{"op": "remove", "path": "/spec/template/spec/containers/0/image"}]},
    ]
    a1, a2, b1 = (_render(deployment(), overrides, cluster=c) for c in ("a1", "a2", "b1"))
    container = a1["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "x:2" and [e["name"] for e in container["env"]] == ["A", "B"]
    assert a2["spec"]["template"]["spec"]["containers"][0]["image"] == "x:1"
    assert "image" not in b1["spec"]["template"]["spec"]["containers"][0]


def test_override_on_a_missing_path_names_the_operation():
    overrides = [{"clusters": ["b1"], "operations": [{"op": "add", "path": "/a", "value": 1}]},
                 {"clusters": ["a1"], "operations": [{"op": "replace", "path": "/spec/nope/x", "value": 1}]}]
    with pytest.raises(render.RenderError) as err:
        _render(deployment(), overrides)
    assert err.value.path == "overrides[1].operations[0].path" and "/spec/nope does not exist" in err.value.message


def test_hash_is_stable_and_sensitive():
    one, two = _render(deployment()), _render(deployment())
    assert render.stable_hash(one) == render.stable_hash(two)
    assert render.stable_hash(one) != render.stable_hash(_render(deployment(), replicas=3))


def test_namespace_names_are_dns_labels():
    assert render.namespace_for("acme", "prod") == "acme-prod"
    long = render.namespace_for("a" * 40, "b" * 40)
    assert len(long) <= 63 and long != render.namespace_for("a" * 40, "b" * 39 + "c")


def test_secret_values_are_masked_and_restored_at_the_same_path():
    patterns = sensitive.patterns_for(SimpleNamespace(group="", kind="Secret", sensitive_paths=[]))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "c2VjcmV0"}}
    shown = sensitive.mask(secret, patterns)
    assert shown["data"] == {"k": "***"} and secret["data"]["k"] == "c2VjcmV0"
    edited = {**shown, "data": {"k": "***", "new": "eA=="}}
    assert sensitive.restore(edited, secret, patterns)["data"] == {"k": "c2VjcmV0", "new": "eA=="}


SECRET_TYPE = SimpleNamespace(group="", kind="Secret", sensitive_paths=["metadata.annotations.token"])


def test_sensitive_paths_are_parsed_without_list_positions():
    assert sensitive.parse("spec.containers[*].env[*].value") == ("spec", "containers", "*", "env", "*", "value")
    assert sensitive.parse("data.*") == ("data", "*")
    for bad in ("", "a..b", "spec.containers[0].env", "spec.0.x", "a[1]", 7):
        with pytest.raises(sensitive.PathError):
            sensitive.parse(bad)
    assert _error(lambda: sensitive.validate_paths(["ok.path", "a..b"])).field == "sensitive_paths[1]"


def test_masking_follows_paths_in_templates_overrides_and_status():
    patterns = sensitive.patterns_for(SECRET_TYPE)
    template = {"kind": "Secret", "type": "Opaque", "metadata": {"name": "s", "annotations": {"token": "t0k3n"}},
                "data": {"k": "c2VjcmV0"}}
    assert sensitive.mask(template, patterns) == {**template, "metadata": {
        "name": "s", "annotations": {"token": "***"}}, "data": {"k": "***"}}
    overrides = [{"clusters": ["a"], "operations": [
        {"op": "add", "path": "/data", "value": {"k": "x", "j": "y"}},
        {"op": "add", "path": "/data", "value": "a-string-where-the-map-belongs"},
        {"op": "add", "path": "/metadata/labels/x", "value": "visible"},
        {"op": "add", "path": "not-a-pointer", "value": "hidden"},
        {"op": "remove", "path": "/data/k"}]}]
    ops = sensitive.mask_overrides(overrides, patterns)[0]["operations"]
    assert [op.get("value") for op in ops] == [{"k": "***", "j": "***"}, "***", "visible", "***", None]
    assert sensitive.mask_status({"data.k": "v", "status.ready": 1}, patterns) == {"data.k": "***", "status.ready": 1}


def test_placeholders_restore_only_from_the_same_path_of_the_same_document():
    patterns = sensitive.patterns_for(SECRET_TYPE)
    stored = [{"clusters": ["b", "a"], "operations": [{"op": "replace", "path": "/data/k", "value": "djE="}]}]
    same = [{"clusters": ["a", "b"], "operations": [{"op": "add", "path": "/data/k", "value": "***"}]}]
    assert sensitive.restore_overrides(same, stored, patterns)[0]["operations"][0]["value"] == "djE="
    for other in ([{"clusters": ["a"], "operations": [{"op": "add", "path": "/data/k", "value": "***"}]}],
                  [{"clusters": ["a", "b"], "operations": [{"op": "add", "path": "/data/j", "value": "***"}]}],
                  [{"clusters": ["a", "b"], "operations": [{"op": "add", "path": "bad", "value": "***"}]}],
                  ["***"]):
        with pytest.raises(DomainError):
            sensitive.restore_overrides(other, stored, patterns)
    with pytest.raises(DomainError) as err:
        sensitive.restore({"data": {"k": "***"}}, None, patterns)  # nothing stored yet (a create)
    assert err.value.field == "template.data.k"
    literal = {"metadata": {"labels": {"x": "***"}}}  # a stored literal "***" may be kept as it is
    assert sensitive.restore(literal, literal, patterns) == literal


def test_scrub_removes_values_and_their_base64_forms():
    patterns = sensitive.patterns_for(SECRET_TYPE)
    values = sensitive.values_of(patterns, template={"data": {"k": "c2VjcmV0LXZhbHVl", "tiny": "eA=="}},
                                 overrides=[{"clusters": ["a"], "operations": [
                                     {"op": "add", "path": "/data/j", "value": "plain-override"}]}])
    text = "refused c2VjcmV0LXZhbHVl (secret-value) and plain-override / cGxhaW4tb3ZlcnJpZGU="
    assert sensitive.scrub(text, values) == "refused *** (***) and *** / ***"
    assert sensitive.scrub("cut to length: plain-over", values) == "cut to length: ***"  # a truncated value
    before = ({"data": {"k": "a", "j": "b"}}, [])
    after = ({"data": {"k": "a", "j": "c", "n": "d"}}, [])
    assert sensitive.changed_fields(patterns, before=before, after=after) == ["template.data.j", "template.data.n"]


# --- validation ---------------------------------------------------------------------

def _error(call) -> DomainError:
    with pytest.raises(DomainError) as err:
        call()
    return err.value


def test_template_validation_names_the_field():
    assert _error(lambda: validation.validate_template(DEPLOYMENT, "web", {**deployment(), "kind": "Pod"})).field \
        == "template.kind"
    assert _error(lambda: validation.validate_template(DEPLOYMENT, "web", {**deployment(), "apiVersion": "v1"})
                  ).field == "template.apiVersion"
    assert _error(lambda: validation.validate_template(DEPLOYMENT, "other", deployment())).field \
        == "template.metadata.name"
    assert _error(lambda: validation.validate_template(DEPLOYMENT, "Bad_Name", deployment())).field == "name"
    bad = deployment()
    bad["spec"]["replicas"] = "three"
    assert _error(lambda: validation.validate_template(DEPLOYMENT, "web", bad)).field == "template.spec.replicas"
    bad = deployment()
    bad["metadata"]["labels"] = {"paas.io/managed-by": "me"}
    assert _error(lambda: validation.validate_template(DEPLOYMENT, "web", bad)).field.startswith(
        "template.metadata.labels")
    template = deployment()
    template["metadata"]["namespace"] = "kube-system"
    assert "namespace" not in validation.validate_template(DEPLOYMENT, "web", template)["metadata"]


def test_placement_validation_names_the_field():
    error = _error(lambda: validation.validate_placement(
        {"replicaScheduling": {"type": "Divided", "totalReplicas": 3, "weights": {"sim-9": 1}}}, DEPLOYMENT, topology()))
    assert error.field == "placement.replicaScheduling.weights.sim-9"
    assert error.message == "placement.replicaScheduling.weights.sim-9: unknown cluster"
    error = _error(lambda: validation.validate_placement({"clusters": ["c1"]}, DEPLOYMENT, topology()))
    assert error.field == "placement.clusters[0]" and "not bound to environment acme/prod" in error.message
    assert _error(lambda: validation.validate_placement({"cells": ["nope"]}, DEPLOYMENT, topology())).field \
        == "placement.cells[0]"
    assert _error(lambda: validation.validate_placement({"where": 1}, DEPLOYMENT, topology())).field == "placement.where"
    assert _error(lambda: validation.validate_placement(
        {"replicaScheduling": {"type": "Divided", "totalReplicas": 3}}, CONFIGMAP, topology())).field \
        == "placement.replicaScheduling.type"
    assert _error(lambda: validation.validate_placement(
        {"replicaScheduling": {"type": "Divided", "totalReplicas": 2, "min": {"a1": 3}}}, DEPLOYMENT, topology())
    ).field == "placement.replicaScheduling.min"
    assert _error(lambda: validation.validate_placement(
        {"labelSelector": {"matchLabels": {"gpu": "none"}}}, DEPLOYMENT, topology())).field == "placement"
    unbound = [info(c.slug, c.cell, bound=False) for c in CLUSTERS]
    assert "not bound to any cell" in _error(lambda: validation.validate_placement({}, DEPLOYMENT, topology(unbound))
                                             ).message
    ok = validation.validate_placement({"cells": ["cell-a"], "replicaScheduling": {
        "type": "Divided", "totalReplicas": 4, "weights": {"cell-a": 1}, "max": {"a1": 3}}}, DEPLOYMENT, topology())
    assert ok["replicaScheduling"]["max"] == {"a1": 3}


def test_override_validation_names_the_field():
    def check(overrides):
        return _error(lambda: validation.validate_overrides(overrides, topology())).field

    ops = [{"op": "replace", "path": "/spec/replicas", "value": 1}]
    assert check([{"clusters": ["a1"], "operations": ops}, {"operations": ops}]) == "overrides[1]"
    assert check([{"clusters": ["zz"], "operations": ops}]) == "overrides[0].clusters[0]"
    assert check([{"clusters": ["a1"], "operations": [ops[0], {"op": "move", "path": "/x"}]}]) \
        == "overrides[0].operations[1].op"
    assert check([{"clusters": ["a1"], "operations": [{"op": "add", "path": "spec"}]}]) \
        == "overrides[0].operations[0].path"
    assert check([{"clusters": ["a1"], "operations": [{"op": "replace", "path": "/metadata/name", "value": "x"}]}]) \
        == "overrides[0].operations[0].path"
    assert check([{"clusters": ["a1"], "operations": [{"op": "add", "path": "/spec/x"}]}]) \
        == "overrides[0].operations[0].value"
    assert check([{"clusterSelector": {"matchLabels": {"a": 1}}, "operations": ops}]) \
        == "overrides[0].clusterSelector.matchLabels"


def test_check_renders_refuses_an_override_that_cannot_apply():
    overrides = validation.validate_overrides(
        [{"clusters": ["b1"], "operations": [{"op": "replace", "path": "/spec/missing", "value": 1}]}], topology())
    plan = placement.plan({}, CLUSTERS, template_replicas=1, has_replicas=True)
    error = _error(lambda: validation.check_renders(ftype=DEPLOYMENT, template=deployment(), overrides=overrides,
                                                    plan=plan, topology=topology(), namespace="acme-prod"))
    assert error.field == "overrides[0].operations[0].path" and "b1" in error.message

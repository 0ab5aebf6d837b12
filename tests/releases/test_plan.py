"""Plan building (pure: releases.plan.build) and the options it is built from: topology order, never
two zones in one step, cumulative batches (counts, percentages, rounding up, no empty batch), the
beta cell, a Deployment's cluster as one batch, estimates; hostile options refused by field."""
import pytest

from paas.errors import DomainError
from releases import options as options_mod
from releases.plan import CLONESET, DEPLOYMENT, ClusterRow, Workload, build
from releases.plan_inputs import in_place_change

# Deliberately listed out of order: the plan sorts region -> zone -> cell -> cluster.
CLUSTERS = [
    ClusterRow(5, "k5", "c4", "z3", "r2"),
    ClusterRow(3, "k3", "c2", "z1", "r1"),
    ClusterRow(2, "k2", "c1", "z1", "r1"),
    ClusterRow(1, "k1", "c1", "z1", "r1"),
    ClusterRow(4, "k4", "c3", "z2", "r1"),
]
ZONE = {c.id: c.zone for c in CLUSTERS}


def cloneset(pods, name="api", in_place=True):
    return Workload(component=name, kind=CLONESET, name=f"app-{name}", resource_id=7, in_place=in_place, pods=pods)


def plan(workloads, **options):
    return build(workloads, CLUSTERS, options_mod.clean(options))


def summary(result):
    """[(step kind, group, {cluster id: desired})] for one component."""
    return [(s["kind"], s["group"], {t["cluster"]: t["desired"] for t in s["targets"]}) for s in result["steps"]]


def test_topology_order_beta_then_cells_and_cumulative_batches():
    pods = {"k1": 4, "k2": 4, "k3": 2, "k4": 3, "k5": 1}
    result = plan([cloneset(pods)], beta={"pods": 1}, batches=["50%", "100%"])
    assert [c["slug"] for c in result["clusters"]] == ["k1", "k2", "k3", "k4", "k5"]
    assert summary(result) == [
        ("beta", "cell c1", {1: 1}),
        # cell c1: 8 pods, 1 done by the beta; 50% = 4, in proportion to the clusters' sizes, then all.
        ("batch", "cell c1", {1: 2, 2: 2}),
        ("batch", "cell c1", {1: 4, 2: 4}),
        ("batch", "cell c2", {3: 1}), ("batch", "cell c2", {3: 2}),
        ("batch", "cell c3", {4: 2}), ("batch", "cell c3", {4: 3}),
        # one pod: 50% rounds up to it, and the 100% batch would be empty, so there is none.
        ("batch", "cell c4", {5: 1}),
    ]
    assert [s["index"] for s in result["steps"]] == list(range(8))
    assert result["steps"][1]["name"] == "cell c1 · batch 1/2"
    assert result["steps"][7]["name"] == "cell c4 · batch 1/1"
    assert result["in_place"] is True
    # Every target ends with all its pods, and desired never goes down between steps.
    last = {}
    for step in result["steps"]:
        for t in step["targets"]:
            assert t["desired"] > last.get(t["cluster"], 0)
            last[t["cluster"]] = t["desired"]
    assert last == {1: 4, 2: 4, 3: 2, 4: 3, 5: 1}


@pytest.mark.parametrize("grouping", ["cell", "zone", "region", "cluster"])
def test_never_two_zones_in_one_step(grouping):
    pods = {"k1": 3, "k2": 3, "k3": 3, "k4": 3, "k5": 3}
    result = plan([cloneset(pods), cloneset(dict(pods), name="worker")], grouping=grouping, batches=[1, "100%"])
    for step in result["steps"]:
        assert len({ZONE[t["cluster"]] for t in step["targets"]}) == 1, step
    groups = list(dict.fromkeys(s["group"] for s in result["steps"][1:]))
    assert groups == {"cell": ["cell c1", "cell c2", "cell c3", "cell c4"],
                      "zone": ["zone z1", "zone z2", "zone z3"],
                      "region": ["region r1", "region r2"],
                      "cluster": ["cluster k1", "cluster k2", "cluster k3", "cluster k4", "cluster k5"]}[grouping]
    if grouping == "region":
        names = [s["name"] for s in result["steps"][1:]]
        assert names[0].startswith("region r1 · zone z1 · batch 1/") and any("zone z2" in n for n in names)


def test_pod_counts_with_a_final_batch_for_the_rest_and_no_empty_batches():
    result = plan([cloneset({"k1": 10})], beta={"pods": 0}, batches=[1, 2, 5])
    assert summary(result) == [("batch", "cell c1", {1: 1}), ("batch", "cell c1", {1: 2}),
                               ("batch", "cell c1", {1: 5}), ("batch", "cell c1", {1: 10})]
    # Counts above the group's size stop at it; percentages round up; each batch adds at least one pod.
    result = plan([cloneset({"k1": 3})], beta={"pods": 0}, batches=["10%", "20%", "100%"])
    assert summary(result) == [("batch", "cell c1", {1: 1}), ("batch", "cell c1", {1: 2}),
                               ("batch", "cell c1", {1: 3})]
    result = plan([cloneset({"k1": 2})], beta={"pods": 0}, batches=[5, 9])
    assert summary(result) == [("batch", "cell c1", {1: 2})]


def test_beta_in_the_chosen_cell_and_a_refused_unknown_cell():
    pods = {"k1": 2, "k3": 2, "k4": 2}
    result = plan([cloneset(pods)], beta={"pods": 3, "cell": "c3"})
    assert result["steps"][0]["kind"] == "beta" and result["steps"][0]["group"] == "cell c3"
    assert summary(result)[0][2] == {4: 2}  # three asked, the cell has two
    # The cell's pods done by the beta are not released again.
    assert all(4 not in s[2] for s in summary(result)[1:])
    with pytest.raises(DomainError) as exc:
        plan([cloneset(pods)], beta={"pods": 1, "cell": "c2x"})
    assert exc.value.field == "options.beta.cell"
    # beta cell c2 is where k2's pods are not: k3 is the only cluster of c2 with pods here.
    assert summary(plan([cloneset(pods)], beta={"pods": 1, "cell": "c2"}))[0] == ("beta", "cell c2", {3: 1})


def test_a_deployment_moves_a_whole_cluster_per_batch():
    web = Workload(component="web", kind=DEPLOYMENT, name="app-web", resource_id=None, in_place=False,
                   pods={"k1": 2, "k2": 2, "k3": 4})
    result = plan([web], beta={"pods": 1}, batches=["25%", "100%"])
    assert summary(result) == [("beta", "cell c1", {1: 2}), ("batch", "cell c1", {2: 2}),
                               ("batch", "cell c2", {3: 4})]
    assert result["in_place"] is False
    assert all(not t["in_place"] and t["desired"] == t["total"] for s in result["steps"] for t in s["targets"])


def test_confirmation_and_estimates():
    result = plan([cloneset({"k1": 2, "k4": 2})], confirm="auto", wait_seconds=30, drain_seconds=3,
                  warmup_seconds=2)
    assert [s["manual"] for s in result["steps"]] == [False] * len(result["steps"])
    assert [s["wait_seconds"] for s in result["steps"]] == [0] + [30] * (len(result["steps"]) - 1)
    # in place: traffic 3 + 2, ready 2.0, gates 0.5 (settings defaults).
    assert result["steps"][0]["estimate_seconds"] == 7.5
    assert result["steps"][1]["estimate_seconds"] == 37.5
    assert result["estimate_seconds"] == pytest.approx(sum(s["estimate_seconds"] for s in result["steps"]))
    manual = plan([cloneset({"k1": 2})], lossless=False)
    assert [s["manual"] for s in manual["steps"]] == [False, True]
    assert manual["steps"][0]["estimate_seconds"] == 2.5  # no traffic handling without lossless
    recreate = plan([cloneset({"k1": 2}, in_place=False)], lossless=False)
    assert recreate["steps"][0]["estimate_seconds"] == 3.5  # + pod start


def test_nothing_to_release_is_refused():
    with pytest.raises(DomainError) as exc:
        plan([cloneset({})])
    assert exc.value.field == "target"


def _workload(kind, image, **extra):
    container = {"name": "api", "image": image, "ports": [{"containerPort": 8080}], **extra}
    return kind, {"spec": {"template": {"metadata": {"labels": {"app.stratus.io/revision": image[-1]}},
                                        "spec": {"containers": [container]}}}}


def test_in_place_only_for_image_and_label_changes_of_a_cloneset():
    assert in_place_change(_workload(CLONESET, "a:1"), _workload(CLONESET, "a:2"))
    assert not in_place_change(_workload(CLONESET, "a:1"), _workload(CLONESET, "a:2", args=["--x"]))
    assert not in_place_change(_workload(DEPLOYMENT, "a:1"), _workload(DEPLOYMENT, "a:2"))
    assert not in_place_change(None, _workload(CLONESET, "a:2"))
    assert not in_place_change(_workload(DEPLOYMENT, "a:1"), _workload(CLONESET, "a:2"))


def test_options_defaults():
    cleaned = options_mod.clean(None)
    assert cleaned == options_mod.defaults()
    assert cleaned["batches"] == ["50%", "100%"] and cleaned["confirm"] == "manual"


@pytest.mark.parametrize("options, field", [
    ([], "options"),
    ({"beta": {"pods": -1}}, "options.beta.pods"),
    ({"beta": {"pods": True}}, "options.beta.pods"),
    ({"beta": {"pods": 10**12}}, "options.beta.pods"),
    ({"beta": {"cell": "Not A Slug"}}, "options.beta.cell"),
    ({"beta": {"zone": "z1"}}, "options.beta.zone"),
    ({"grouping": "planet"}, "options.grouping"),
    ({"batches": []}, "options.batches"),
    ({"batches": "50%"}, "options.batches"),
    ({"batches": ["50%"]}, "options.batches[0]"),
    ({"batches": ["50%", "40%", "100%"]}, "options.batches[1]"),
    ({"batches": ["0%", "100%"]}, "options.batches[0]"),
    ({"batches": ["101%"]}, "options.batches[0]"),
    ({"batches": [3, 2]}, "options.batches[1]"),
    ({"batches": ["50%", 3]}, "options.batches[1]"),
    ({"batches": [1, "50%"]}, "options.batches[1]"),
    ({"batches": [1.5]}, "options.batches[0]"),
    ({"batches": [{"$gt": 1}]}, "options.batches[0]"),
    ({"batches": list(range(1, 30))}, "options.batches"),
    ({"confirm": "maybe"}, "options.confirm"),
    ({"wait_seconds": "10"}, "options.wait_seconds"),
    ({"lossless": "yes"}, "options.lossless"),
    ({"drain_seconds": float("nan")}, "options.drain_seconds"),
    ({"warmup_seconds": 1e9}, "options.warmup_seconds"),
    ({"gates": {"min_ready_ratio": 2}}, "options.gates.min_ready_ratio"),
    ({"gates": {"prometheus_url": "file:///etc/passwd"}}, "options.gates.prometheus_url"),
    ({"gates": {"prometheus_url": "http://user:pw@prom:9090"}}, "options.gates.prometheus_url"),
    ({"gates": {"metrics": [{"name": "e", "query": "up", "op": "!=", "threshold": 1}]}},
     "options.gates.metrics[0].op"),
    ({"gates": {"metrics": [{"name": "e", "query": "up", "op": "<"}]}}, "options.gates.metrics[0].threshold"),
    ({"gates": {"metrics": [{"name": "e", "query": "x" * 3000, "op": "<", "threshold": 1}]}},
     "options.gates.metrics[0].query"),
    ({"gates": {"timeout_seconds": 0}}, "options.gates.timeout_seconds"),
    ({"on_gate_failure": "explode"}, "options.on_gate_failure"),
    ({"x" * 1000: 1}, "options"),
])
def test_hostile_options_are_refused_naming_the_field(options, field):
    with pytest.raises(DomainError) as exc:
        options_mod.clean(options)
    assert exc.value.field == field
    assert exc.value.status_code == 400


def test_spread_goes_where_the_share_is_most_behind():
    # 4 pods over clusters of 3 and 1 (cell c1): 75% = 3 -> whole shares 2 and 0; the third pod goes to k2
    # (share 3*1/4 = 0.75, 0.75 behind) rather than k1 (share 9/4, 0.25 behind).
    result = plan([cloneset({"k1": 3, "k2": 1})], beta={"pods": 0}, batches=["75%", "100%"])
    assert summary(result) == [("batch", "cell c1", {1: 2, 2: 1}), ("batch", "cell c1", {1: 3})]

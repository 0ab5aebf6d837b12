"""The simulator's kubelet pulls from the registry an image names: Debian's CNCF distribution
registry (``/usr/bin/docker-registry``) with images pushed over raw HTTP, driven through the
official client and kubectl."""
import logging
import shutil
import subprocess
import time
import uuid

import pytest
from kubernetes import client, config

from clusters.simulator.server import BackgroundServer

from . import wait_for
from .registries import DistributionRegistry, TokenIssuer, dockerconfigjson, free_port

BACKOFF = 0.2  # KUBESIM_IMAGE_PULL_BACKOFF for this module's simulator (10 s on a real kubelet)
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


@pytest.fixture(name="sim", scope="module")
def sim_fixture(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KUBESIM_IMAGE_PULL_BACKOFF", str(BACKOFF))
        env.delenv("KUBESIM_IMAGE_CHECK", raising=False)
        server = BackgroundServer(["pull"], tmp_path_factory.mktemp("kubesim-pull"), ready_delay=0.1,
                                  nodes_per_cluster=2).start()
    yield server
    server.stop()


@pytest.fixture(name="core", scope="module")
def core_fixture(sim):
    api = config.new_client_from_config(config_file=str(sim.server.cluster("pull").kubeconfig_path))
    return client.CoreV1Api(api)


@pytest.fixture(name="registry", scope="module")
def registry_fixture(tmp_path_factory):
    registry = DistributionRegistry(tmp_path_factory.mktemp("registry")).start()
    yield registry
    registry.stop()


@pytest.fixture(name="namespace")
def namespace_fixture(core):
    name = f"p-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def pod(name: str, image: str, policy: str | None = None) -> dict:
    container = {"name": "main", "image": image}
    if policy:
        container["imagePullPolicy"] = policy
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container]}}


def status_of(core, namespace, name):
    found = core.read_namespaced_pod(name, namespace)
    return found, (found.status.container_statuses or [None])[0]


def running(core, namespace, name):
    found, status = status_of(core, namespace, name)
    return status if status is not None and status.state.running is not None and status.ready else None


def waiting(core, namespace, name, reason):
    _, status = status_of(core, namespace, name)
    ok = status is not None and status.state.waiting is not None and status.state.waiting.reason == reason
    return status if ok else None


def messages(core, namespace, name, reason=None):
    events = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    return [e.message for e in events if reason is None or e.reason == reason]


def test_an_existing_tag_runs_and_reports_its_digest(core, namespace, registry):
    digest = registry.push_image("acme/shop", "1.0")
    image = f"{registry.host}/acme/shop:1.0"
    core.create_namespaced_pod(namespace, pod("shop", image))
    status = wait_for(lambda: running(core, namespace, "shop"), message="running")
    assert status.image == image
    assert status.image_id == f"{registry.host}/acme/shop@{digest}"
    found = core.read_namespaced_pod("shop", namespace)
    assert found.status.phase == "Running"
    pulled = wait_for(lambda: messages(core, namespace, "shop", "Pulled"), message="Pulled")
    assert pulled[0].startswith(f'Successfully pulled image "{image}" in ')


def test_a_digest_reference_runs(core, namespace, registry):
    digest = registry.push_image("acme/ledger", "2.0")
    image = f"{registry.host}/acme/ledger@{digest}"
    core.create_namespaced_pod(namespace, pod("ledger", image))
    status = wait_for(lambda: running(core, namespace, "ledger"), message="running")
    assert status.image_id == f"{registry.host}/acme/ledger@{digest}"


def test_a_missing_tag_fails_to_pull_then_backs_off_and_runs_once_pushed(core, namespace, registry):
    registry.push_image("acme/cart", "1.0")
    image = f"{registry.host}/acme/cart:9.9"
    ref = image
    core.create_namespaced_pod(namespace, pod("cart", image))

    pulled_error = wait_for(lambda: waiting(core, namespace, "cart", "ErrImagePull"), message="ErrImagePull")
    expected = (f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
                f'failed to resolve reference "{ref}": {ref}: not found')
    assert pulled_error.state.waiting.message == expected
    assert pulled_error.image_id == "" and pulled_error.ready is False
    assert core.read_namespaced_pod("cart", namespace).status.phase == "Pending"

    backing_off = wait_for(lambda: waiting(core, namespace, "cart", "ImagePullBackOff"), message="ImagePullBackOff")
    assert backing_off.state.waiting.message == f'Back-off pulling image "{image}": ErrImagePull: {expected}'
    failed = wait_for(lambda: (found := messages(core, namespace, "cart", "Failed")) and len(set(found)) >= 3
                      and found, message="Failed events")
    assert f'Failed to pull image "{image}": {expected}' in failed
    assert {"Error: ErrImagePull", "Error: ImagePullBackOff"} <= set(failed)
    assert wait_for(lambda: messages(core, namespace, "cart", "BackOff")) == [f'Back-off pulling image "{image}"']
    # The kubelet keeps trying (back-off 0.2 s doubling here): pulling again and again.
    wait_for(lambda: any(e.reason == "Pulling" and e.count >= 2 for e in core.list_namespaced_event(
        namespace, field_selector="involvedObject.name=cart").items), message="a second pull")

    digest = registry.push_image("acme/cart", "9.9")
    status = wait_for(lambda: running(core, namespace, "cart"), timeout=15, message="running once pushed")
    assert status.image_id == f"{registry.host}/acme/cart@{digest}" and status.restart_count == 0
    assert core.read_namespaced_pod("cart", namespace).status.phase == "Running"


def test_kubectl_shows_the_pull_status_and_the_image_id(sim, registry, namespace):
    digest = registry.push_image("acme/web", "3.1")
    kubeconfig = str(sim.server.cluster("pull").kubeconfig_path)

    def kubectl(*args):
        result = subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, "-n", namespace, *args],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        return result.stdout

    kubectl("run", "good", f"--image={registry.host}/acme/web:3.1", "--restart=Never")
    kubectl("run", "bad", f"--image={registry.host}/acme/web:0.0-missing", "--restart=Never")

    def table():
        lines = kubectl("get", "pods", "--no-headers").splitlines()
        return {line.split()[0]: line.split()[2] for line in lines}

    wait_for(lambda: table().get("good") == "Running", message="good Running")
    seen = set()
    wait_for(lambda: seen.add(table().get("bad")) or {"ErrImagePull", "ImagePullBackOff"} <= seen,
             message=f"bad in ErrImagePull and ImagePullBackOff (seen {seen})")
    image_id = kubectl("get", "pod", "good", "-o", "jsonpath={.status.containerStatuses[0].imageID}")
    assert image_id == f"{registry.host}/acme/web@{digest}"
    described = kubectl("describe", "pod", "bad")
    assert f'Failed to pull image "{registry.host}/acme/web:0.0-missing"' in described
    assert "Back-off pulling image" in described


def test_a_running_pod_is_not_checked_again_when_its_tag_disappears(core, namespace, registry):
    digest = registry.push_image("acme/keep", "1.0")
    core.create_namespaced_pod(namespace, pod("keep", f"{registry.host}/acme/keep:1.0"))
    wait_for(lambda: running(core, namespace, "keep"), message="running")
    registry.delete_manifest("acme/keep", digest)
    assert not registry.has("acme/keep", "1.0")
    time.sleep(1.0)
    status = running(core, namespace, "keep")
    assert status is not None and status.restart_count == 0
    assert messages(core, namespace, "keep", "Failed") == []


@pytest.mark.parametrize("policy", ["Always", "IfNotPresent"])
def test_a_restart_pulls_again_only_with_pull_policy_always(core, namespace, registry, policy):
    digest = registry.push_image("acme/flaky", f"1-crashloop-{policy.lower()}")
    image = f"{registry.host}/acme/flaky:1-crashloop-{policy.lower()}"
    core.create_namespaced_pod(namespace, pod("flaky", image, policy))
    status = wait_for(lambda: (s := status_of(core, namespace, "flaky")[1]) and s.restart_count >= 2 and s,
                      message="crash-looping")
    assert status.image_id == f"{registry.host}/acme/flaky@{digest}"
    registry.delete_manifest("acme/flaky", digest)
    restarts = status.restart_count
    if policy == "Always":
        failing = wait_for(lambda: waiting(core, namespace, "flaky", "ErrImagePull")
                           or waiting(core, namespace, "flaky", "ImagePullBackOff"), message="re-pull fails")
        assert "not found" in failing.state.waiting.message
        time.sleep(0.5)
        after = status_of(core, namespace, "flaky")[1]
        assert after.restart_count <= restarts + 1  # the loop stopped at the failed pull
        assert after.state.waiting.reason in ("ErrImagePull", "ImagePullBackOff")
        assert core.read_namespaced_pod("flaky", namespace).status.phase == "Running"  # it ran before
        pulled = [m for m in messages(core, namespace, "flaky", "Pulled") if "Successfully pulled" in m]
        assert pulled  # every restart pulled again
    else:
        wait_for(lambda: status_of(core, namespace, "flaky")[1].restart_count >= restarts + 2,
                 message="restarts go on")
        assert messages(core, namespace, "flaky", "Failed") == []
        assert any("already present on machine" in m for m in messages(core, namespace, "flaky", "Pulled"))


def test_tag_conventions_still_apply_to_checked_images(core, namespace, registry):
    registry.push_image("acme/sulky", "2-unready")
    core.create_namespaced_pod(namespace, pod("sulky", f"{registry.host}/acme/sulky:2-unready"))
    status = wait_for(lambda: (s := status_of(core, namespace, "sulky")[1]) and s.state.running and s,
                      message="running")
    assert status.ready is False and status.image_id.startswith(f"{registry.host}/acme/sulky@sha256:")
    registry.push_image("acme/ghost", "1-unpullable")  # present, but its tag says it never pulls
    core.create_namespaced_pod(namespace, pod("ghost", f"{registry.host}/acme/ghost:1-unpullable"))
    wait_for(lambda: waiting(core, namespace, "ghost", "ImagePullBackOff"), message="ImagePullBackOff")


def test_an_unreachable_registry_changes_nothing(core, namespace, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="clusters.simulator")
    stopped = DistributionRegistry(tmp_path).start()
    stopped.push_image("acme/gone", "1.0")
    stopped.stop()
    core.create_namespaced_pod(namespace, pod("gone", f"{stopped.host}/acme/gone:7.7-never-pushed"))
    status = wait_for(lambda: running(core, namespace, "gone"), message="running as before")
    assert status.image_id.startswith("sim.local/image@sha256:")
    assert any("registry unreachable" in r.getMessage() and stopped.host in r.getMessage() for r in caplog.records)
    nobody = f"127.0.0.1:{free_port()}"  # nothing listens there at all
    core.create_namespaced_pod(namespace, pod("nobody", f"{nobody}/acme/none:1"))
    wait_for(lambda: running(core, namespace, "nobody"), message="running as before")
    core.create_namespaced_pod(namespace, pod("hub", "nginx:1.25"))  # Docker Hub: never asked
    wait_for(lambda: running(core, namespace, "hub"), message="running")


@pytest.fixture(name="guarded", scope="module")
def guarded_fixture(tmp_path_factory):
    """Debian's registry with distribution's own token authentication, tokens from a test issuer."""
    root = tmp_path_factory.mktemp("guarded")
    issuer = TokenIssuer(root, users={"robot": "s3cret", "other": "pw"}, access={"robot": None, "other": []})
    registry = DistributionRegistry(root, issuer).start()
    yield registry
    registry.stop()
    issuer.stop()


def test_a_token_authenticated_distribution_registry(core, namespace, guarded):
    digest = guarded.push_image("bank/core", "4.2")
    image = f"{guarded.host}/bank/core:4.2"
    for name, user, password in (("regcred", "robot", "s3cret"), ("nosy", "other", "pw")):
        core.create_namespaced_secret(namespace, {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "kubernetes.io/dockerconfigjson",
            "data": dockerconfigjson(guarded.host, user, password)})
    with_secret = pod("core", image)
    with_secret["spec"]["imagePullSecrets"] = [{"name": "regcred"}]
    core.create_namespaced_pod(namespace, with_secret)
    assert wait_for(lambda: running(core, namespace, "core")).image_id == f"{guarded.host}/bank/core@{digest}"
    authorization, query = guarded.issuer.requests[-1]
    assert authorization.startswith("Basic ") and query == {"scope": "repository:bank/core:pull",
                                                            "service": guarded.issuer.service}

    core.create_namespaced_pod(namespace, pod("anonymous", image, "Always"))
    failed = wait_for(lambda: waiting(core, namespace, "anonymous", "ErrImagePull"), message="ErrImagePull")
    assert "failed to fetch anonymous token" in failed.state.waiting.message
    assert failed.state.waiting.message.endswith("401 Unauthorized: unauthorized: authentication required")

    nosy = pod("nosy", image, "Always")
    nosy["spec"]["imagePullSecrets"] = [{"name": "nosy"}]  # a valid user without access to bank/core
    core.create_namespaced_pod(namespace, nosy)
    failed = wait_for(lambda: waiting(core, namespace, "nosy", "ErrImagePull"), message="ErrImagePull")
    assert failed.state.waiting.message.endswith(
        "pull access denied, repository does not exist or may require authorization: server message: "
        "insufficient_scope: authorization failed: unauthorized: authentication required")


def test_a_cloneset_in_place_update_to_a_missing_tag_waits_then_runs_once_pushed(sim, core, namespace, registry):
    """OpenKruise in-place update with real pulls: the pod keeps its name while its new image
    fails to pull (Updating, InPlaceUpdateReady False, not Ready) and finishes once pushed."""
    objects = client.CustomObjectsApi(config.new_client_from_config(
        config_file=str(sim.server.cluster("pull").kubeconfig_path)))
    registry.push_image("acme/till", "1.0")
    labels = {"app": "till"}
    objects.create_namespaced_custom_object("apps.kruise.io", "v1alpha1", namespace, "clonesets", {
        "apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "metadata": {"name": "till"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "updateStrategy": {"type": "InPlaceIfPossible"},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                     {"name": "main", "image": f"{registry.host}/acme/till:1.0"}]}}}})
    name = wait_for(lambda: (pods := core.list_namespaced_pod(namespace, label_selector="app=till").items)
                    and running(core, namespace, pods[0].metadata.name) and pods[0].metadata.name, message="running")
    uid = core.read_namespaced_pod(name, namespace).metadata.uid
    image = f"{registry.host}/acme/till:2.0"
    objects.patch_namespaced_custom_object("apps.kruise.io", "v1alpha1", namespace, "clonesets", "till", {
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}]}}}})
    wait_for(lambda: waiting(core, namespace, name, "ErrImagePull"), message="ErrImagePull in place")
    found = core.read_namespaced_pod(name, namespace)
    gate = {c.type: c.status for c in found.status.conditions}
    assert found.metadata.uid == uid and found.metadata.labels["lifecycle.apps.kruise.io/state"] == "Updating"
    assert gate["InPlaceUpdateReady"] == "False" and gate["Ready"] == "False"

    digest = registry.push_image("acme/till", "2.0")
    status = wait_for(lambda: running(core, namespace, name), timeout=15, message="running once pushed")
    assert status.image_id == f"{registry.host}/acme/till@{digest}" and status.restart_count == 1
    wait_for(lambda: core.read_namespaced_pod(name, namespace).metadata.labels["lifecycle.apps.kruise.io/state"]
             == "Normal", message="Normal again")

"""Pulling from registries that want credentials: the pod's imagePullSecrets, the Bearer token
flow (a fake registry with its own token server: the built-in registry gets its own
integration test) and Basic; refusals give ErrImagePull worded as a kubelet words them."""
import base64
import json
import logging
import time
import uuid

import pytest
from kubernetes import client, config

from clusters.simulator.server import BackgroundServer

from . import wait_for
from .registries import FakeRegistry, dockerconfigjson, free_port


@pytest.fixture(name="sim", scope="module")
def sim_fixture(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KUBESIM_IMAGE_PULL_BACKOFF", "0.2")
        env.delenv("KUBESIM_IMAGE_CHECK", raising=False)
        server = BackgroundServer(["auth"], tmp_path_factory.mktemp("kubesim-auth"), ready_delay=0.1,
                                  nodes_per_cluster=1).start()
    yield server
    server.stop()


@pytest.fixture(name="core", scope="module")
def core_fixture(sim):
    api = config.new_client_from_config(config_file=str(sim.server.cluster("auth").kubeconfig_path))
    return client.CoreV1Api(api)


@pytest.fixture(name="namespace")
def namespace_fixture(core):
    name = f"a-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


@pytest.fixture(name="fake")
def fake_fixture():
    registry = FakeRegistry(users={"robot": "s3cret", "other": "pw"},
                            access={"robot": None, "other": ["other/thing"]}).start()
    yield registry
    registry.stop()


def pull_secret(core, namespace, name, data, kind="kubernetes.io/dockerconfigjson"):
    core.create_namespaced_secret(namespace, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                                              "type": kind, "data": data})


def pod(name, image, secrets=(), policy=None):
    spec = {"containers": [{"name": "main", "image": image, **({"imagePullPolicy": policy} if policy else {})}]}
    if secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in secrets]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def status_of(core, namespace, name):
    return (core.read_namespaced_pod(name, namespace).status.container_statuses or [None])[0]


def running(core, namespace, name):
    status = status_of(core, namespace, name)
    return status if status is not None and status.state.running is not None else None


def pull_error(core, namespace, name):
    status = status_of(core, namespace, name)
    if status is not None and status.state.waiting is not None and status.state.waiting.reason == "ErrImagePull":
        return status.state.waiting.message
    return None


def test_a_pull_secret_gets_a_bearer_token_and_the_pod_runs(core, namespace, fake):
    digest = fake.add("acme/payments", "1.4.2")
    pull_secret(core, namespace, "regcred", dockerconfigjson(fake.host, "robot", "s3cret"))
    core.create_namespaced_pod(namespace, pod("pay", f"{fake.host}/acme/payments:1.4.2", ["regcred"]))
    status = wait_for(lambda: running(core, namespace, "pay"), message="running")
    assert status.image_id == f"{fake.host}/acme/payments@{digest}"
    authorization, query = fake.token_requests[-1]
    assert authorization.startswith("Basic ")  # robot:s3cret
    assert query == {"scope": "repository:acme/payments:pull", "service": "fake-registry"}
    methods = [(m, a.split(" ")[0]) for m, _, a in fake.requests]
    assert methods == [("HEAD", ""), ("HEAD", "Bearer")]  # challenged, then with the token


def test_auth_entries_may_be_urls_with_base64_auth_and_the_legacy_format(core, namespace, fake):
    digest = fake.add("acme/ledger", "2")
    pull_secret(core, namespace, "unrelated", dockerconfigjson("elsewhere.example:5000", "robot", "wrong"))
    pull_secret(core, namespace, "url-form", dockerconfigjson(f"http://{fake.host}/v1/", "robot", "s3cret",
                                                              as_auth=True))
    core.create_namespaced_pod(namespace, pod("ledger", f"{fake.host}/acme/ledger:2", ["missing", "unrelated",
                                                                                        "url-form"]))
    assert wait_for(lambda: running(core, namespace, "ledger")).image_id.endswith(digest)

    legacy = {".dockercfg": base64.b64encode(json.dumps({fake.host: {"auth": base64.b64encode(
        b"robot:s3cret").decode()}}).encode()).decode()}
    pull_secret(core, namespace, "legacy", legacy, kind="kubernetes.io/dockercfg")
    core.create_namespaced_pod(namespace, pod("legacy", f"{fake.host}/acme/ledger@{digest}", ["legacy"]))
    assert wait_for(lambda: running(core, namespace, "legacy")).image_id == f"{fake.host}/acme/ledger@{digest}"


def test_without_a_pull_secret_the_pull_is_unauthorized(core, namespace, fake):
    fake.add("acme/secret-sauce", "1")
    image = f"{fake.host}/acme/secret-sauce:1"
    core.create_namespaced_pod(namespace, pod("sauce", image))
    message = wait_for(lambda: pull_error(core, namespace, "sauce"), message="ErrImagePull")
    assert message.startswith(f'rpc error: code = Unknown desc = failed to pull and unpack image "{image}": '
                              f'failed to resolve reference "{image}": failed to authorize: '
                              "failed to fetch anonymous token: unexpected status from GET request to "
                              f"{fake.realm}?scope=repository%3Aacme%2Fsecret-sauce%3Apull&service=fake-registry: "
                              "401 Unauthorized")
    assert message.endswith("unauthorized: authentication required")
    assert fake.token_requests[0][0] == ""  # asked anonymously
    wait_for(lambda: (s := status_of(core, namespace, "sauce")) and s.state.waiting
             and s.state.waiting.reason == "ImagePullBackOff", message="ImagePullBackOff")
    events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=sauce").items
    assert any(e.reason == "Failed" and e.message == f'Failed to pull image "{image}": {message}' for e in events)


def test_a_wrong_password_or_a_token_without_access_is_refused(core, namespace, fake):
    fake.add("acme/vault", "1")
    pull_secret(core, namespace, "wrong", dockerconfigjson(fake.host, "robot", "guess"))
    core.create_namespaced_pod(namespace, pod("wrong", f"{fake.host}/acme/vault:1", ["wrong"]))
    message = wait_for(lambda: pull_error(core, namespace, "wrong"), message="ErrImagePull")
    assert "failed to fetch oauth token" in message and message.endswith("unauthorized: authentication required")

    pull_secret(core, namespace, "other", dockerconfigjson(fake.host, "other", "pw"))  # a token, not for acme
    core.create_namespaced_pod(namespace, pod("other", f"{fake.host}/acme/vault:1", ["other"]))
    message = wait_for(lambda: pull_error(core, namespace, "other"), message="ErrImagePull")
    assert ("pull access denied, repository does not exist or may require authorization: "
            "server message: insufficient_scope: authorization failed: unauthorized: authentication required"
            in message)


def test_a_missing_tag_behind_a_token_is_not_found(core, namespace, fake):
    pull_secret(core, namespace, "regcred", dockerconfigjson(fake.host, "robot", "s3cret"))
    image = f"{fake.host}/acme/payments:0.0.0"
    core.create_namespaced_pod(namespace, pod("nope", image, ["regcred"]))
    message = wait_for(lambda: pull_error(core, namespace, "nope"), message="ErrImagePull")
    assert message.startswith("rpc error: code = NotFound") and message.endswith(f"{image}: not found")


@pytest.fixture(name="basic")
def basic_fixture():
    registry = FakeRegistry(scheme="basic").start()
    yield registry
    registry.stop()


def test_a_basic_registry(core, namespace, basic):
    digest = basic.add("team/api", "5")
    pull_secret(core, namespace, "regcred", dockerconfigjson(basic.host, "robot", "s3cret"))
    core.create_namespaced_pod(namespace, pod("api", f"{basic.host}/team/api:5", ["regcred"]))
    assert wait_for(lambda: running(core, namespace, "api")).image_id == f"{basic.host}/team/api@{digest}"
    assert basic.token_requests == []
    # The node has the image now: only a pod that always pulls asks the registry again, without credentials.
    core.create_namespaced_pod(namespace, pod("anon", f"{basic.host}/team/api:5", policy="Always"))
    message = wait_for(lambda: pull_error(core, namespace, "anon"), message="ErrImagePull")
    assert (f"unexpected status from HEAD request to http://{basic.host}/v2/team/api/manifests/5: 401 Unauthorized"
            in message)
    assert message.endswith("unauthorized: authentication required")


def test_a_token_server_that_does_not_answer_changes_nothing(core, namespace, caplog):
    caplog.set_level(logging.WARNING, logger="clusters.simulator")
    fake = FakeRegistry(realm=f"http://127.0.0.1:{free_port()}/token").start()
    try:
        fake.add("acme/app", "1")
        core.create_namespaced_pod(namespace, pod("app", f"{fake.host}/acme/app:1"))
        status = wait_for(lambda: running(core, namespace, "app"), message="running as before")
        assert status.image_id.startswith("sim.local/image@sha256:")
        assert any(r.levelno == logging.WARNING and "registry unreachable in the middle of a pull" in r.getMessage()
                   for r in caplog.records)
    finally:
        fake.stop()


def test_a_slow_registry_never_stalls_the_api_server(core, namespace, fake):
    digest = fake.add("acme/slow", "1")
    pull_secret(core, namespace, "regcred", dockerconfigjson(fake.host, "robot", "s3cret"))
    fake.delay = 1.0  # per registry request; the pull makes two
    core.create_namespaced_pod(namespace, pod("slow", f"{fake.host}/acme/slow:1", ["regcred"]))
    slowest = 0.0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        began = time.monotonic()
        core.list_namespaced_pod(namespace)
        slowest = max(slowest, time.monotonic() - began)
    assert slowest < 0.5, slowest  # a loop waiting on the registry would take a second
    assert running(core, namespace, "slow") is None  # still being pulled
    assert wait_for(lambda: running(core, namespace, "slow")).image_id.endswith(digest)


def test_pods_pulling_the_same_image_together_ask_once(core, namespace, fake):
    digest = fake.add("acme/fleet", "1")
    pull_secret(core, namespace, "regcred", dockerconfigjson(fake.host, "robot", "s3cret"))
    fake.delay = 0.2
    apps = client.AppsV1Api(core.api_client)
    template = pod("x", f"{fake.host}/acme/fleet:1", ["regcred"])
    apps.create_namespaced_deployment(namespace, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fleet"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "fleet"}},
                 "template": {"metadata": {"labels": {"app": "fleet"}}, "spec": template["spec"]}}})

    def all_running():
        pods = core.list_namespaced_pod(namespace, label_selector="app=fleet").items
        return len(pods) == 4 and all(p.status.container_statuses and p.status.container_statuses[0].state.running
                                      for p in pods) and pods

    pods = wait_for(all_running, message="4 running pods")
    assert {p.status.container_statuses[0].image_id for p in pods} == {f"{fake.host}/acme/fleet@{digest}"}
    assert len(fake.token_requests) == 1 and len(fake.requests) == 2  # one challenge, one answer

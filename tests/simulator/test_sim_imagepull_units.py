"""Unit tests of the image-pull pieces: references, pull-secret lookup, challenges, the probe's
scheme discovery and unreachable cache, and the back-off arithmetic."""
import base64
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from clusters.simulator import registryprobe
from clusters.simulator.controllers.imagepull import Puller
from clusters.simulator.controllers.kubelet_pulls import ImagePulls, image_id, pull_backoff_base, pull_failure
from clusters.simulator.imageref import ImageRef, credentials, parse
from clusters.simulator.pki import ensure_pki
from clusters.simulator.registryprobe import Outcome, RegistryProbe, parse_challenge, registry_errors

from .registries import free_port


@pytest.mark.parametrize(("image", "expected"), [
    ("nginx", ImageRef("docker.io", "library/nginx")),
    ("nginx:1.25", ImageRef("docker.io", "library/nginx", "1.25")),
    ("bitnami/redis:7", ImageRef("docker.io", "bitnami/redis", "7")),
    ("docker.io/library/busybox@sha256:ab", ImageRef("docker.io", "library/busybox", "", "sha256:ab")),
    ("127.0.0.1:8000/acme/api@sha256:cd", ImageRef("127.0.0.1:8000", "acme/api", "", "sha256:cd")),
    ("localhost/app:dev", ImageRef("localhost", "app", "dev")),
    ("Registry.Example.com/team/sub/app:1.0@sha256:ef",
     ImageRef("registry.example.com", "team/sub/app", "1.0", "sha256:ef")),
    ("registry.local:5000/app", ImageRef("registry.local:5000", "app")),
])
def test_references_split_like_the_distribution_grammar(image, expected):
    assert parse(image) == expected


def test_what_a_reference_asks_for():
    assert parse("reg.io/a:1@sha256:x").reference == "sha256:x"
    assert parse("reg.io/a:1").reference == "1"
    assert parse("reg.io/a").reference == "latest"
    assert parse("nginx").on_docker_hub and parse("index.docker.io/x/y").on_docker_hub
    assert not parse("quay.io/x/y").on_docker_hub
    assert parse("") is None and parse("a b") is None and parse("reg.io/") is None


def _secret(auths, kind="kubernetes.io/dockerconfigjson", legacy=False):
    body = auths if legacy else {"auths": auths}
    key = ".dockercfg" if legacy else ".dockerconfigjson"
    return {"type": kind, "data": {key: base64.b64encode(json.dumps(body).encode()).decode()}}


def _pod(*names):
    return {"metadata": {"namespace": "ns"}, "spec": {"imagePullSecrets": [{"name": n} for n in names]}}


def test_pull_secrets_match_the_registry_most_specific_first():
    ref = parse("reg.example.com:5000/team/app:1")
    encoded = base64.b64encode(b"viaauth:pw2").decode()
    secrets = {
        "host": _secret({"reg.example.com:5000": {"username": "host", "password": "pw"}}),
        "path": _secret({"https://reg.example.com:5000/team": {"auth": encoded}}),
        "glob": _secret({"*.example.com:5000": {"username": "glob", "password": "pw3"}}),
        "elsewhere": _secret({"reg.example.com": {"username": "noport", "password": "x"},  # another port
                              "reg.example.com:5000/other": {"username": "otherpath", "password": "x"}}),
        "opaque": {"type": "Opaque", "data": {".dockerconfigjson": "e30="}},
        "broken": {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "!!"}},
        "legacy": _secret({"http://reg.example.com:5000/v1/": {"auth": base64.b64encode(b"old:pw4").decode()}},
                          kind="kubernetes.io/dockercfg", legacy=True),
    }
    found = credentials(_pod("host", "glob", "missing", "elsewhere", "opaque", "broken", "legacy", "path"),
                        secrets, ref)
    assert [(c.username, c.password, c.source) for c in found] == [
        ("viaauth", "pw2", "path"), ("host", "pw", "host"), ("old", "pw4", "legacy"), ("glob", "pw3", "glob")]
    assert credentials({"spec": {}}, secrets, ref) == []
    assert credentials(_pod("host"), secrets, parse("reg.example.com/team/app")) == []


def test_duplicate_credentials_are_tried_once():
    ref = parse("reg.io/app")
    secrets = {n: _secret({"reg.io": {"username": "u", "password": "p"}}) for n in ("a", "b")}
    assert len(credentials(_pod("a", "b"), secrets, ref)) == 1


def test_challenges_and_registry_errors_parse():
    header = ('Bearer realm="https://auth.example/token",service="registry.example",'
              'scope="repository:acme/app:pull,push",error="insufficient_scope"')
    assert parse_challenge(header) == ("bearer", {"realm": "https://auth.example/token", "service": "registry.example",
                                                  "scope": "repository:acme/app:pull,push",
                                                  "error": "insufficient_scope"})
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic", {"realm": "Registry Realm"})
    assert parse_challenge("") == ("", {})
    body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"},
                                  {"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]})
    assert registry_errors(body.encode()) == ("unauthorized: authentication required; "
                                              "name unknown: repository name not known to registry")
    assert registry_errors(b"<html>") == "" and registry_errors(b"[]") == "" and registry_errors(b"") == ""


def test_pull_failures_and_image_ids_from_outcomes():
    image = "reg.io:5000/acme/app:1"
    assert pull_failure(image, None) == "" and pull_failure(image, Outcome("unreachable")) == ""
    assert pull_failure(image, Outcome("pulled", "sha256:x")) == ""
    assert pull_failure(image, Outcome("notfound")).endswith(f'"{image}": {image}: not found')
    denied = pull_failure(image, Outcome("denied", detail="nope"))
    assert denied.startswith("rpc error: code = Unknown desc =") and denied.endswith(f'"{image}": nope')
    assert "NotFound" in pull_failure("reg.io:5000/acme/app:1-unpullable", Outcome("pulled", "sha256:x"))
    assert image_id(image, Outcome("pulled", "sha256:x"), "fallback") == "reg.io:5000/acme/app@sha256:x"
    assert image_id(image, Outcome("unreachable"), "fallback") == "fallback"


def test_kubernetes_pull_backoff(monkeypatch):
    kubelet = SimpleNamespace(pull_backoff=10.0)
    assert [ImagePulls._pull_delay(kubelet, n) for n in range(7)] == [10, 20, 40, 80, 160, 300, 300]
    assert ImagePulls._pull_delay(kubelet, 10_000) == 300
    monkeypatch.delenv("KUBESIM_IMAGE_PULL_BACKOFF", raising=False)
    assert pull_backoff_base() == 10.0
    monkeypatch.setenv("KUBESIM_IMAGE_PULL_BACKOFF", "0.5")
    assert pull_backoff_base() == 0.5
    monkeypatch.setenv("KUBESIM_IMAGE_PULL_BACKOFF", "soon")
    assert pull_backoff_base() == 10.0


def test_checks_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("KUBESIM_IMAGE_CHECK", "0")
    puller = Puller(loop=None, store=None)
    puller.start(("ns", "p"), {"metadata": {}, "spec": {}}, {"name": "main", "image": "127.0.0.1:1/a:1"})
    assert not puller.pending(("ns", "p")) and puller.take(("ns", "p"), "main", "127.0.0.1:1/a:1") is None


def test_an_unreachable_host_is_not_asked_again_for_a_while():
    probe = RegistryProbe(retry_after=0.3)
    host = f"127.0.0.1:{free_port()}"
    calls = []
    original = probe._connection

    def counting(scheme, authority):
        calls.append(authority)
        return original(scheme, authority)

    probe._connection = counting
    assert probe.check(parse(f"{host}/a:1")).kind == "unreachable" and len(calls) == 1
    assert probe.check(parse(f"{host}/a:1")).kind == "unreachable" and len(calls) == 1
    time.sleep(0.35)
    assert probe.check(parse(f"{host}/a:1")).kind == "unreachable" and len(calls) == 2


class _Manifests(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):  # noqa: N802
        found = self.path == "/v2/acme/app/manifests/1"
        self.send_response(200 if found else 404)
        if found:
            self.send_header("Docker-Content-Digest", "sha256:" + "a" * 64)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _serve(tls_dir=None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Manifests)
    if tls_dir is not None:
        pki = ensure_pki(tls_dir, ("127.0.0.1", "localhost"))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki["server.crt"], pki["server.key"])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_probe_finds_out_whether_a_registry_speaks_https_or_http(tmp_path, monkeypatch):
    secure = _serve(tmp_path / "pki")
    plain = _serve()
    try:
        probe = RegistryProbe(connect_timeout=0.5)
        for server, scheme in ((secure, "https"), (plain, "http")):
            host = f"127.0.0.1:{server.server_address[1]}"
            assert probe.check(parse(f"{host}/acme/app:1")) == Outcome("pulled", "sha256:" + "a" * 64)
            assert probe.check(parse(f"{host}/acme/app:2")).kind == "notfound"
            assert probe._schemes[host] == scheme
        # A remote-looking host is tried with https first; a plain server is still found.
        monkeypatch.setattr(registryprobe, "_is_local", lambda host: False)
        fresh = RegistryProbe(connect_timeout=0.5)
        host = f"127.0.0.1:{plain.server_address[1]}"
        assert fresh.check(parse(f"{host}/acme/app:1")).kind == "pulled" and fresh._schemes[host] == "http"
    finally:
        for server in (secure, plain):
            server.shutdown()
            server.server_close()

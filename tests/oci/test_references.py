"""Image references: the OCI distribution grammar, Docker's host rule, the built-in default."""
import pytest

from applications.oci.references import ImageRef, parse

HEX = "a" * 64


@pytest.fixture(autouse=True)
def _builtin(settings):
    settings.REGISTRY_HOST = "paas.example:8443"


@pytest.mark.parametrize("text, expected", [
    ("platform/jre:17", ("paas.example:8443", "platform/jre", "17", None)),
    ("acme/app", ("paas.example:8443", "acme/app", None, None)),
    ("acme/app@sha256:" + HEX, ("paas.example:8443", "acme/app", None, "sha256:" + HEX)),
    ("acme/app:1.0@sha256:" + HEX, ("paas.example:8443", "acme/app", "1.0", "sha256:" + HEX)),
    ("127.0.0.1:5000/acme/app:v2", ("127.0.0.1:5000", "acme/app", "v2", None)),
    ("localhost/app", ("localhost", "app", None, None)),
    ("harbor.example.com/team/sub/app:Latest_1", ("harbor.example.com", "team/sub/app", "Latest_1", None)),
    ("[::1]:5000/acme/app:1", ("[::1]:5000", "acme/app", "1", None)),
    ("reg.example/a.b__c--d/e_f:1", ("reg.example", "a.b__c--d/e_f", "1", None)),
    ("app", ("paas.example:8443", "app", None, None)),
])
def test_parses(text, expected):
    ref = parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == expected


def test_default_registry_can_be_given():
    assert parse("platform/jre:17", default_registry="r:1").registry == "r:1"


def test_round_trip_and_by_digest():
    ref = parse("127.0.0.1:5000/acme/app:1")
    assert str(ref) == "127.0.0.1:5000/acme/app:1"
    assert ref.reference == "1"
    assert ref.by_digest("sha256:" + HEX) == "127.0.0.1:5000/acme/app@sha256:" + HEX
    pinned = ref.with_digest("sha256:" + HEX)
    assert pinned.reference == "sha256:" + HEX
    assert str(pinned) == "127.0.0.1:5000/acme/app:1@sha256:" + HEX
    assert parse(str(pinned)) == pinned
    assert ImageRef("r", "a").reference == "latest"
    with pytest.raises(ValueError, match="no digest"):
        ref.by_digest()


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("Acme/App:1", "invalid repository name"),
    ("acme/app:-1", "invalid tag"),
    ("acme/app:" + "x" * 129, "invalid tag"),
    ("acme//app", "invalid repository name"),
    ("acme/app/", "invalid repository name"),
    ("acme/app@sha256:abc", "64 lowercase hex"),
    ("acme/app@sha256:" + "A" * 64, "64 lowercase hex"),
    ("acme/app@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("https://reg.example/acme/app", "no scheme"),
    ("acme/app name", "white space"),
    ("reg.example:99999/acme/app", "port"),
    ("bad_host.example/acme/app", "invalid registry host"),
    ("a/" * 130 + "b", "longer than 255"),
])
def test_refuses_with_a_clear_message(text, message):
    with pytest.raises(ValueError, match=message):
        parse(text)


def test_refuses_non_strings():
    with pytest.raises(ValueError, match="must be a string"):
        parse(None)

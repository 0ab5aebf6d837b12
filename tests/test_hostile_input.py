"""Hostile input and the API's error answers: every error under /api/ is the JSON
error shape (400 oversized body, 403 CSRF, 404, 405, 415, 500), pages keep HTML;
bounded JSON (depth, NUL, lone surrogates, huge numbers) and YAML (aliases, depth,
size); the audit cursor. Federation-specific input is in tests/federation/test_fed_hostile.py.
"""
import json

import pytest
import yaml
from django.test import Client

from paas import safeinput

API = "/api/v1"


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "request_id"} and body["request_id"]
    assert body["error"]["status"] == status
    return body["error"]


@pytest.fixture
def operator(personas, login):
    return login(personas["operator"])


# --- every API error in the JSON shape ----------------------------------------------

def test_unknown_api_url_is_a_json_404_and_pages_keep_html(operator):
    assert error(operator.get(f"{API}/no-such-thing/"), 404)["code"] == "not_found"
    assert error(operator.get("/api/nowhere"), 404)["code"] == "not_found"
    page = operator.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_method_and_media_type_errors_are_json(operator):
    assert error(operator.put(f"{API}/tenants/"), 405)["code"] == "method_not_allowed"
    response = operator.post(f"{API}/tenants/", "<x/>", content_type="application/xml")
    assert error(response, 415)["code"] == "unsupported_media_type"


def test_oversized_body_is_a_json_400(operator, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"slug": "big", "name": "x" * 2000})
    assert error(operator.post(f"{API}/tenants/", body, content_type="application/json"), 400)["code"] == "too_large"
    # The API reads JSON only: any other body is refused by its media type before it is read.
    form = operator.post(f"{API}/tenants/", {"slug": "big", "name": "x" * 2000})
    assert error(form, 415)["code"] == "unsupported_media_type"


def test_csrf_failure_on_the_api_is_json(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["operator"])
    response = client.post(f"{API}/tenants/", {"slug": "x", "name": "x"}, content_type="application/json")
    assert error(response, 403)["message"].startswith("CSRF")
    # The same failure outside DRF (CSRF_FAILURE_VIEW): JSON under /api/, HTML for pages.
    from django.test import RequestFactory

    from paas.api.errors import csrf_failure

    api_answer = csrf_failure(RequestFactory().post("/api/v1/anything/"), reason="no token")
    assert api_answer.status_code == 403 and json.loads(api_answer.content)["error"]["code"] == "csrf_failed"
    page_answer = csrf_failure(RequestFactory().post("/tenants/"), reason="no token")
    assert page_answer["Content-Type"].startswith("text/html")


@pytest.fixture
def boom_urls(settings):
    settings.ROOT_URLCONF = "tests.urls_hostile"


def test_unhandled_exception_under_api_is_a_json_500_without_internals(boom_urls, personas):
    client = Client(raise_request_exception=False)
    client.force_login(personas["operator"])
    for url in (f"{API}/test-boom/", "/api/test-plain-boom/"):
        response = client.get(url)
        body = error(response, 500)
        assert body["code"] == "server_error"
        assert response.json()["request_id"] == response["X-Request-ID"]
        assert b"internal detail" not in response.content and b"Traceback" not in response.content
    page = client.get("/test-page-boom/")
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


def test_nul_in_the_url_is_a_400_before_any_lookup(operator):
    # On PostgreSQL the tenant lookup with a NUL slug was a 500 (text cannot hold U+0000).
    assert error(operator.get(f"{API}/tenants/%00/"), 400)["code"] == "bad_request"
    assert error(operator.get(f"{API}/tenants/", {"search": "a\x00"}), 400)["code"] == "bad_request"
    page = operator.get("/tenants/ac%00me/")
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")


# --- bounded JSON ---------------------------------------------------------------------

@pytest.mark.parametrize("levels", [65, 5_000, 100_000])
def test_deep_json_is_refused_before_parsing(operator, levels):
    body = '{"slug": "deep", "name": "d", "labels": ' + "[" * levels + "]" * levels + "}"
    response = operator.post(f"{API}/tenants/", body, content_type="application/json")
    err = error(response, 400)
    assert err["fields"] == {"labels": ["labels: nests deeper than 64 levels"]}


@pytest.mark.parametrize("raw, problem", [
    ('"ab\\u0000c"', "contains a NUL character"),
    ('"ab\\ud800c"', "contains a lone UTF-16 surrogate (not valid Unicode)"),
    ("1" + "0" * 30, "is too large a number"),
    ("1e400", "must be a finite number"),
])
def test_unstorable_json_values_are_a_400_naming_the_field(operator, raw, problem):
    body = '{"slug": "bad", "name": ' + raw + '}'
    response = operator.post(f"{API}/tenants/", body, content_type="application/json")
    assert error(response, 400)["fields"] == {"name": [f"name: {problem}"]}


def test_nested_values_are_named_by_their_path():
    data = {"template": {"spec": {"containers": [{"image": "ok"}, {"env": [{"value": "a\x00"}]}]}}}
    with pytest.raises(safeinput.UnsafeInput) as caught:
        safeinput.check_data(data)
    assert caught.value.field == "template.spec.containers[1].env[0].value"
    with pytest.raises(safeinput.UnsafeInput):
        safeinput.check_data({"k\ud800": 1})
    safeinput.check_data({"emoji": "\U0001F600", "n": -5, "f": 1.5, "none": None, "deep": [[[[1]]]]})


# --- bounded YAML ---------------------------------------------------------------------

LAUGHS = "\n".join([f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" if p else f'{n}: &{n} ["lol"{", lol" * 8}]'
                    for p, n in zip(["", *"abcdefgh"], "abcdefghi", strict=True)])


def test_billion_laughs_is_refused_while_composing():
    assert len(LAUGHS) < 500
    with pytest.raises(yaml.YAMLError, match="more than 32 aliases"):
        safeinput.load_yaml(LAUGHS)


def test_a_few_aliases_still_load_but_expansion_is_bounded():
    assert safeinput.load_yaml("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
    # Few aliases, large base: the expanded count is what is bounded.
    wide = "a: &a [" + ", ".join(["0"] * 2000) + "]\n" + "b: &b [" + ", ".join(["*a"] * 30) + "]\nc: [*b, *b]\n"
    with pytest.raises(safeinput.UnsafeInput, match="more than 100000 values"):
        safeinput.load_yaml(wide)


def test_kubeconfig_billion_laughs_is_refused():
    from clusters import validation
    from paas.errors import DomainError

    laughs = "kind: Config\nclusters: [x]\ncontexts: [x]\n" + LAUGHS + "\nusers: [*f]\n"
    with pytest.raises(DomainError, match="more than 32 aliases"):
        validation.parse(laughs)


def test_deep_and_large_yaml_is_refused():
    with pytest.raises(yaml.YAMLError, match="deeper than 64"):
        safeinput.load_yaml("[" * 100_000)
    with pytest.raises(safeinput.UnsafeInput, match="larger than 256 KiB"):
        safeinput.load_yaml("a: " + "x" * 300_000, "template")
    with pytest.raises(safeinput.UnsafeInput, match=r"template\.when: must be a string"):
        safeinput.load_yaml("when: 2024-01-01", "template")
    with pytest.raises(safeinput.UnsafeInput, match="template.a: contains a NUL"):
        safeinput.load_yaml('a: "x\\0"', "template")
    with pytest.raises(safeinput.UnsafeInput, match="keys must be strings"):
        safeinput.load_yaml("1: a", "template")


# --- audit cursor -----------------------------------------------------------------------

@pytest.mark.parametrize("cursor", ["garbage", "bz1hYmM=", "cD1ub3RhbmlkJnI9MA==", "eD0x", "%%%"])
def test_garbage_audit_cursor_is_a_400(operator, cursor):
    response = operator.get(f"{API}/audit-events/", {"cursor": cursor})
    assert list(error(response, 400)["fields"]) == ["cursor"]


def test_real_audit_cursors_still_page(operator, personas, login):
    for slug in ("one", "two", "three"):
        assert operator.post(f"{API}/tenants/", {"slug": slug, "name": slug},
                             content_type="application/json").status_code == 201
    first = operator.get(f"{API}/audit-events/", {"page_size": 1}).json()
    second = operator.get(first["next"])
    assert second.status_code == 200 and second.json()["previous"]
    assert operator.get(second.json()["previous"]).status_code == 200

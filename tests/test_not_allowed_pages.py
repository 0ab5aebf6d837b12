"""Every POST-only page answers a GET with the portal's 405 page linking back to the
form, found by walking the whole URL conf (new POST-only views are covered too)."""
import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db

SKIP_PREFIXES = ("admin", "api", "i18n", "jsi18n")
SAMPLE = {"int": 1, "slug": "acme", "str": "x", "path": "x", "repositoryname": "acme/api", "tag": "v1"}


def _walk(patterns, namespace="", outer=None):
    """(name, pattern, converters) of every named URL; converters include those of the
    prefixes it is included under (applications/<int:app_id>/builds/...)."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            prefix = str(entry.pattern).strip("^/")
            if not namespace and prefix.startswith(SKIP_PREFIXES):
                continue
            child_ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, child_ns, {**(outer or {}), **entry.pattern.converters})
        elif isinstance(entry, URLPattern) and entry.name:
            yield namespace + entry.name, entry, {**(outer or {}), **entry.pattern.converters}


def portal_urls() -> list[str]:
    urls = set()
    for name, entry, converters in _walk(get_resolver().url_patterns):
        kwargs = {key: SAMPLE.get(type(conv).__name__.replace("Converter", "").lower(), "x")
                  for key, conv in converters.items()}
        kwargs = {k: v for k, v in kwargs.items() if k not in entry.default_args}
        urls.add(reverse(name, kwargs=kwargs))
    return sorted(urls)


def test_every_post_only_url_shows_a_page_with_a_link_back(personas, login):
    client = login(personas["superuser"])
    post_only = []
    for url in portal_urls():
        response = client.get(url)
        if response.status_code != 405:
            continue
        post_only.append(url)
        html = response.content.decode()
        assert "This action needs its form" in html, url
        assert 'data-testid="back-to-form"' in html and response.context["back_url"] != url, url
        assert "POST" in response["Allow"], url
        assert client.get(response.context["back_url"]).status_code in (200, 302, 404), url
    for known in ("/tenants/acme/members/invite/", "/clusters/-/bindings/add/", "/accounts/logout/"):
        assert known in post_only
    print("POST-only:", *post_only)
    assert len(post_only) >= 20  # archive, cordon, fail, revoke, ...


def test_the_back_link_is_the_page_holding_the_form(personas, login):
    response = login(personas["owner"]).get("/tenants/acme/members/invite/")
    assert response.status_code == 405
    assert response.context["back_url"] == "/tenants/acme/members/"


def test_the_api_keeps_its_json_405(personas, login):
    response = login(personas["owner"]).put("/api/v1/tenants/")
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")

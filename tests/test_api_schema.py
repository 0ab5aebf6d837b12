"""The OpenAPI schema and the documentation pages: complete, local-only, behind login."""
import re

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from .factories import make_token

pytestmark = pytest.mark.django_db

OPENAPI_JSON = "application/vnd.oai.openapi+json"
ENDPOINTS = [
    "/api/v1/me/",
    "/api/v1/tenants/",
    "/api/v1/tenants/{slug}/",
    "/api/v1/tenants/{tenant_slug}/environments/",
    "/api/v1/tenants/{tenant_slug}/environments/{slug}/",
    "/api/v1/tenants/{tenant_slug}/members/",
    "/api/v1/tenants/{tenant_slug}/members/{username}/",
    "/api/v1/tenants/{tenant_slug}/quotas/",
    "/api/v1/tenants/{tenant_slug}/quotas/{environment}/",
    "/api/v1/tenants/{tenant_slug}/tokens/",
    "/api/v1/tenants/{tenant_slug}/tokens/{id}/",
    "/api/v1/tenants/{tenant_slug}/tokens/{id}/revoke/",
    "/api/v1/tenants/{tenant_slug}/quota-requests/",
    "/api/v1/tenants/{tenant_slug}/quota-requests/{id}/",
    "/api/v1/tenants/{tenant_slug}/quota-requests/{id}/cancel/",
    "/api/v1/quota-requests/",
    "/api/v1/quota-requests/{id}/",
    "/api/v1/quota-requests/{id}/approve/",
    "/api/v1/quota-requests/{id}/reject/",
]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_schema_is_an_openapi_3_document_with_the_endpoints(personas, login):
    response = login(personas["viewer"]).get("/api/schema/", HTTP_ACCEPT=OPENAPI_JSON)
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in ENDPOINTS:
        assert path in schema["paths"], path
    assert set(schema["paths"]["/api/v1/tenants/{tenant_slug}/environments/{slug}/"]) >= {"get", "patch", "delete"}
    assert "put" not in schema["paths"]["/api/v1/tenants/{slug}/"]  # partial updates only
    assert "delete" not in schema["paths"]["/api/v1/tenants/{slug}/"]  # tenants are archived, never deleted
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    # Operators set quotas (PATCH or PUT); the 403 for everyone else is documented.
    quota = schema["paths"]["/api/v1/tenants/{tenant_slug}/quotas/{environment}/"]
    assert {"patch", "put"} <= set(quota) and "403" in quota["put"]["responses"]


def test_schema_is_served_to_a_token_too(personas, tenant):
    _, plaintext = make_token(personas["viewer"], tenant)
    client = Client(headers={"Authorization": f"Bearer {plaintext}"})
    assert client.get("/api/schema/", HTTP_ACCEPT=OPENAPI_JSON).status_code == 200


def test_schema_generates_without_warnings(tmp_path):
    # The same check as `manage.py spectacular --validate --fail-on-warn` in CI.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_only_local_files(personas, login, url):
    response = login(personas["viewer"]).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "http://" not in html and "https://" not in html and "//fonts." not in html
    assets = re.findall(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"', html)
    assert assets, "the page should load the sidecar bundle"
    for asset in assets:
        # Static files, or this page's own start-up script / ReDoc's bundle with a local logo (paas/api/docs.py).
        assert asset.startswith(("/static/", url, "/api/redoc/redoc.standalone.js")), asset
    assert any("drf_spectacular_sidecar" in asset or "redoc.standalone" in asset for asset in assets)
    if url == "/api/docs/":  # Swagger's start-up script is served by the page's view (?script), not inline
        html = login(personas["viewer"]).get(url + "?script=").content.decode()
    assert "/api/schema/" in html


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_schema_and_docs_need_authentication(db, url):
    response = Client().get(url)
    assert response.status_code in (401, 403) or (response.status_code == 302 and "login" in response["Location"])
    assert b"/api/v1/tenants/" not in response.content

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
    "/api/v1/releases/",
    "/api/v1/releases/preview/",
    "/api/v1/releases/{id}/",
    "/api/v1/releases/{id}/start/",
    "/api/v1/releases/{id}/confirm/",
    "/api/v1/releases/{id}/pause/",
    "/api/v1/releases/{id}/resume/",
    "/api/v1/releases/{id}/abort/",
    "/api/v1/releases/{id}/rollback/",
    "/api/v1/releases/{id}/events/",
    "/api/v1/releases/{id}/pods/",
    "/api/v1/applications/{app_id}/instances/{env}/traffic-providers/",
    "/api/v1/applications/{app_id}/instances/{env}/traffic-providers/{id}/",
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


# --- the contract details schemathesis found (tests/test_api_contract.py checks the whole API) ---

@pytest.fixture
def schema_doc(personas, login):
    return login(personas["viewer"]).get("/api/schema/", HTTP_ACCEPT=OPENAPI_JSON).json()


def _ref(response) -> str:
    return response["content"]["application/json"]["schema"].get("$ref", "")


def test_every_operation_documents_its_errors_in_the_error_shape(schema_doc):
    error = schema_doc["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "request_id"}
    for path, operations in schema_doc["paths"].items():
        for method, operation in operations.items():
            codes = {c for c in operation["responses"] if c >= "400"}
            assert {"401", "403", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method in ("post", "patch", "delete"):
                assert {"400", "409"} <= codes, (method, path)
            if "requestBody" in operation:
                # JSON everywhere, except the artifact upload's raw body (applications.builds.api).
                raw = path.endswith("/artifacts/") and method == "put"
                expected = {"application/octet-stream"} if raw else {"application/json"}
                assert "415" in codes and set(operation["requestBody"]["content"]) == expected, (method, path)
            for code in codes:
                assert _ref(operation["responses"][code]) == "#/components/schemas/Error", (method, path, code)


def test_retrieve_without_query_parameters_documents_no_400(schema_doc):
    responses = schema_doc["paths"]["/api/v1/tenants/{slug}/"]["get"]["responses"]
    assert "400" not in responses and "415" not in responses and "409" not in responses


def test_regions_and_zones_have_their_own_schemas(schema_doc):
    paths = schema_doc["paths"]
    for kind, component in [("regions", "Region"), ("zones", "Zone"), ("cells", "Cell")]:
        assert _ref(paths[f"/api/v1/{kind}/"]["post"]["responses"]["201"]) == f"#/components/schemas/{component}"
        detail = paths[f"/api/v1/{kind}/{{slug}}/"]
        assert _ref(detail["patch"]["responses"]["200"]) == f"#/components/schemas/{component}"
    region_body = paths["/api/v1/regions/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert region_body["$ref"] == "#/components/schemas/RegionCreateRequest"


def test_platform_switch_is_one_object_and_preview_a_plain_list(schema_doc):
    switch = schema_doc["paths"]["/api/v1/platform-switch/"]["get"]
    assert _ref(switch["responses"]["200"]) == "#/components/schemas/PlatformSwitch"
    assert not switch.get("parameters")
    preview = schema_doc["paths"]["/api/v1/tenants/{tenant_slug}/federated-resources/{id}/preview/"]
    for method in ("get", "post"):
        body = preview[method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert body == {"type": "array", "items": {"$ref": "#/components/schemas/PreviewEntry"}}
        assert all(p["in"] == "path" for p in preview[method]["parameters"])


def test_binding_cell_and_cluster_are_nullable(schema_doc):
    binding = schema_doc["components"]["schemas"]["Binding"]["properties"]
    assert binding["cell"]["nullable"] is True and binding["cluster"]["nullable"] is True


def test_optional_query_parameters_allow_an_empty_value(schema_doc):
    parameters = schema_doc["paths"]["/api/v1/tenants/{tenant_slug}/environments/"]["get"]["parameters"]
    kind = next(p for p in parameters if p["name"] == "kind")
    assert kind["allowEmptyValue"] is True

"""The API keeps its OpenAPI contract: schemathesis generates requests for every
operation of /api/schema/ and checks each answer against the schema.

- in-process (Django's WSGI app), as the owner of one tenant with a read-write token,
  over a tenant with environments, members, tokens, a bound cluster and a federated
  resource, so operations reach real objects as well as missing ones;
- each generated request runs in a savepoint that is rolled back, so a DELETE or an
  archive in one example does not starve the next;
- bounded and reproducible: `max_examples` per operation, `derandomize=True` (the
  seed is derived from the test), no example database;
- fails on any 5xx and on any answer the schema does not describe (status code,
  content type, body, headers), and on schema-invalid input that is accepted
  (a coerced "5" for an integer, an empty name).

Excluded: only the revoke action (POST .../tokens/{id}/revoke/), which would revoke
the very token the run authenticates with. DELETE .../tokens/{id} (the same revoke)
is kept: its generated ids are pointed at another token of the user (see _point).
"""
import json
import zlib
from contextlib import contextmanager

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi import checks as oa_checks

from applications.dockerfiles import services as dockerfile_services
from applications.services import application_create, component_create, instance_create
from clusters.crypto import encrypt
from clusters.federation.models import FederatedType
from clusters.federation.services import federated_resource_create
from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone
from paas.actors import Actor
from releases.services import traffic_provider_create
from tenants.roles import Role

from .factories import UserFactory, add_member, make_tenant, make_token
from .registry.rows import registry_rows
from .releases.rows import release_rows

MAX_EXAMPLES = 12
# Nothing listens on port 9 of loopback: probes and previews fail fast instead of waiting on a timeout.
UNREACHABLE = "https://127.0.0.1:9"
KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{UNREACHABLE}", insecure-skip-tls-verify: true}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u}}}}]
current-context: c
users: [{{name: u, user: {{token: not-a-secret}}}}]
"""
REVOKE_PATH = "/api/v1/tenants/{tenant_slug}/tokens/{id}/revoke/"


def _schema_dict() -> dict:
    # The same document /api/schema/ serves, rendered to plain JSON (no lazy strings).
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


schema = schemathesis.openapi.from_dict(_schema_dict()).exclude(path=REVOKE_PATH, method="POST")



def body_negative_data_rejection(ctx, response, case):
    """negative_data_rejection, for request bodies only.

    A schema-invalid JSON body (a string for a boolean, "" for a name) must be refused.
    Query parameters are lenient on purpose, as DRF and django-filter make them: an
    unusable `page_size` or filter value is ignored rather than refused, so requests
    whose negated part is a query parameter are not judged here.
    """
    meta = case.meta
    if meta is None or any(
        location is not ParameterLocation.BODY and info.mode.is_negative
        for location, info in meta.components.items()
    ):
        return None
    return oa_checks.negative_data_rejection(ctx, response, case)


CHECKS = [
    st_checks.not_a_server_error,
    oa_checks.status_code_conformance,
    oa_checks.content_type_conformance,
    oa_checks.response_schema_conformance,
    oa_checks.response_headers_conformance,
    body_negative_data_rejection,
]


@pytest.fixture
def world(db, settings, tmp_path):
    """One tenant the caller owns, its neighbours, and cluster/federation rows to point at."""
    settings.BUILD_ARTIFACT_DIR = tmp_path / "artifacts"  # uploads of the run land there, not in var/
    tenant = make_tenant("acme")
    make_tenant("globex")
    owner = UserFactory(username="owner")
    add_member(tenant, owner, Role.OWNER)
    add_member(tenant, UserFactory(username="dev"), Role.DEVELOPER)
    other_token, _ = make_token(owner, tenant, name="other")
    token, plaintext = make_token(owner, tenant, name="contract")

    region = Region.objects.create(name="East", slug="east")
    zone = Zone.objects.create(region=region, name="East 1", slug="east-1")
    cell = Cell.objects.create(zone=zone, name="East 1a", slug="east-1a")
    cluster = Cluster.objects.create(cell=cell, name="Reg A", slug="reg-a", server=UNREACHABLE,
                                     credentials=encrypt(KUBECONFIG))
    prod = tenant.environments.get(slug="prod")
    EnvironmentBinding.objects.create(environment=prod, cell=cell)
    EnvironmentBinding.objects.create(environment=tenant.environments.get(slug="dev"), cluster=cluster)
    configmap = FederatedType.objects.get(group="", kind="ConfigMap")
    resource = federated_resource_create(
        actor=Actor.for_user(owner), environment=prod, ftype=configmap, name="settings",
        template={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "b"}},
        placement=None, overrides=None)
    application, artifact = _application_with_a_build(owner, tenant)
    repository, external = registry_rows(tenant, owner)
    releases = release_rows(tenant, owner)
    provider = traffic_provider_create(actor=Actor.for_user(owner), instance=application.instances.get(),
                                       kind="dns", name="dns", url="http://127.0.0.1:9/dns/v1")
    return {
        "headers": {"Authorization": f"Bearer {plaintext}"},
        # Real values for path parameters (by operation path prefix and parameter name).
        "params": {
            "tenant_slug": tenant.slug,
            ("environments", "slug"): "dev",
            ("tenants", "slug"): tenant.slug,
            "username": "dev",
            "environment": "dev",
            ("tokens", "id"): other_token.pk,
            ("federated-resources", "id"): resource.pk,
            ("federated-types", "id"): configmap.pk,
            ("environment-bindings", "id"): EnvironmentBinding.objects.filter(cluster=cluster).get().pk,
            ("regions", "slug"): region.slug,
            ("zones", "slug"): zone.slug,
            ("cells", "slug"): cell.slug,
            ("clusters", "slug"): cluster.slug,
            "app_id": application.pk,
            ("applications", "number"): 1,
            ("applications", "id"): application.pk,
            ("applications", "name"): "api",
            ("applications", "env"): "dev",
            ("applications", "artifacts", "id"): artifact.pk,
            ("registry", "id"): repository.pk,
            ("registry", "tag"): "v1",
            ("registries", "id"): external.pk,
            ("releases", "id"): releases["release"].pk,
            ("applications", "instances", "id"): provider.pk,
        },
        "token_id": token.pk,
    }


def _application_with_a_build(owner, tenant):
    """An application with a Dockerfile version, an uploaded artifact and build #1."""
    import io

    from applications.builds import services as builds
    application = application_create(actor=Actor.for_user(owner), tenant=tenant, name="payments")
    component_create(actor=Actor.for_user(owner), application=application,
                     data={"name": "api", "image": "acme/payments:1", "ports": [{"name": "http", "port": 8080}]})
    instance_create(actor=Actor.for_user(owner), application=application,
                    environment=tenant.environments.get(slug="dev"))
    dockerfile_services.base_images_ensure(actor=Actor.for_system("contract"))
    dockerfile = dockerfile_services.dockerfile_save(actor=Actor.for_user(owner), application=application,
                                                     content="FROM platform/jre:17\nUSER 10001\n")
    artifact, _created = builds.artifact_upload(actor=Actor.for_user(owner), application=application,
                                                filename="app.jar", read=io.BytesIO(b"jar").read)
    builds.build_start(actor=Actor.for_user(owner), application=application, dockerfile=dockerfile,
                       artifact=artifact, tag="1.0.0")
    return application, artifact


def _point(case, world):
    """For about half the examples, point path parameters at existing objects (else mostly 404s).

    The choice hashes the generated values, so it is the same whichever xdist worker
    runs the operation, and in whatever order (derandomized runs stay reproducible).
    """
    pick = zlib.crc32(repr(sorted((case.path_parameters or {}).items())).encode()) % 2
    collection = case.operation.path.removeprefix("/api/v1/").split("/")
    # applications/{app_id}/artifacts/{id}: "id" of the sub-collection, not of the application
    sub = collection[2] if collection[0] == "applications" and len(collection) > 2 else None
    collection = collection[2] if collection[0] == "tenants" and len(collection) > 2 else collection[0]
    for name in list(case.path_parameters or {}):
        params = world["params"]
        value = params.get((collection, sub, name), params.get((collection, name), params.get(name)))
        if name == "tenant_slug" or (value is not None and pick):
            case.path_parameters[name] = value
        if collection == "tokens" and name == "id" and str(case.path_parameters[name]) == str(world["token_id"]):
            case.path_parameters[name] = world["params"][("tokens", "id")]  # never the token in use


@contextmanager
def _in_process():
    """Django's WSGI app called in this thread: the request must not close the test's connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.mark.filterwarnings("ignore")
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=False,
          suppress_health_check=list(HealthCheck))
def test_api_keeps_its_contract(case, world):
    _point(case, world)
    cache.clear()  # throttling counters: thousands of requests must not turn into 429s
    with _in_process() as app, transaction.atomic():
        try:
            case.call_and_validate(app=app, headers=world["headers"], checks=CHECKS)
        finally:
            transaction.set_rollback(True)

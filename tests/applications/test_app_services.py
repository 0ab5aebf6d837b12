"""Application services: applications, components, dependencies (acyclic), instances (placement
inside the bindings), revisions (pinned digests, numbering, immutability, quota, prod provenance,
diff, promotion) and the direct apply through federation."""
import pytest

from applications import services
from applications.builds.models import Build
from applications.models import AppRevision, ImmutableRevision
from clusters.federation import services as federation
from clusters.federation.models import FederatedResource
from paas.audit.models import AuditEvent
from paas.errors import Conflict, DomainError
from tenants import services as tenant_services

from .conftest import SYSTEM, digest, env, make_build

pytestmark = pytest.mark.django_db


def actions(since=0):
    return list(AuditEvent.objects.filter(id__gt=since).order_by("id").values_list("action", flat=True))


def last_event():
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def new_app(tenant, name):
    return services.application_create(actor=SYSTEM, tenant=tenant, name=name)


# --- dependencies ---------------------------------------------------------------------------

def test_a_cycle_is_refused_naming_it(tenant):
    payments, accounts, ledger = (new_app(tenant, n) for n in ("payments-api", "accounts-api", "ledger"))
    services.dependency_add(actor=SYSTEM, application=payments, depends_on=accounts)
    with pytest.raises(DomainError) as exc:
        services.dependency_add(actor=SYSTEM, application=accounts, depends_on=payments)
    assert exc.value.field == "depends_on"
    assert exc.value.message == "depends_on: this would make a cycle: accounts-api -> payments-api -> accounts-api"
    services.dependency_add(actor=SYSTEM, application=accounts, depends_on=ledger)
    with pytest.raises(DomainError) as exc:
        services.dependency_add(actor=SYSTEM, application=ledger, depends_on=payments)
    assert "ledger -> payments-api -> accounts-api -> ledger" in exc.value.message
    # Idempotent, and removable.
    mark = last_event()
    services.dependency_add(actor=SYSTEM, application=payments, depends_on=accounts)
    assert actions(mark) == []
    services.dependency_remove(actor=SYSTEM, application=payments, depends_on=accounts)
    assert actions(mark) == ["app.dependency.remove"]


def test_an_application_others_need_cannot_be_deleted(tenant):
    payments, accounts = new_app(tenant, "payments-api"), new_app(tenant, "accounts-api")
    services.dependency_add(actor=SYSTEM, application=payments, depends_on=accounts)
    with pytest.raises(Conflict, match="needed by payments-api"):
        services.application_delete(actor=SYSTEM, application=accounts)


# --- components -----------------------------------------------------------------------------

def test_component_secrets_are_sealed_and_never_audited(app):
    component = app.components.get()
    assert b"s3cret-value" not in bytes(component.secret_env)
    assert component.secret_env_names == ["DB_PASSWORD"]
    mark = last_event()
    services.component_update(actor=SYSTEM, component=component,
                              data={"secret_env": {"DB_PASSWORD": None, "API_KEY": "k-123"}})
    event = AuditEvent.objects.get(id__gt=mark)
    assert "s3cret" not in str(event.changes) and "k-123" not in str(event.changes)
    assert event.changes["after"]["sensitive_variables_changed"] == {"set": ["API_KEY"]}
    with pytest.raises(DomainError) as exc:
        services.component_update(actor=SYSTEM, component=component, data={"secret_env": {"NEW": None}})
    assert exc.value.field == "secret_env.NEW"


@pytest.mark.parametrize("data, field", [
    ({"ports": [{"name": "http", "port": 70000}]}, "ports[0].port"),
    ({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}, "resources.limits.cpu"),
    ({"resources": {"requests": {"cpu": "lots"}}}, "resources.requests.cpu"),
    ({"config_files": [{"path": "../etc/x", "content": ""}]}, "config_files[0].path"),
    ({"liveness_probe": {"type": "http", "port": "nope"}}, "liveness_probe.port"),
    ({"replicas": {"prod": -1}}, "replicas.prod"),
    ({"image": "Not An Image"}, "image"),
    ({"name": "api"}, "name"),
])
def test_component_input_is_refused_naming_the_field(app, data, field):
    with pytest.raises(DomainError) as exc:
        services.component_create(actor=SYSTEM, application=app,
                                  data={"name": "worker", "image": "acme/payments-api:1.0", **data})
    assert exc.value.field == field


# --- instances ------------------------------------------------------------------------------

def test_a_placement_outside_the_bindings_is_refused(app, cells, tenant):
    with pytest.raises(DomainError) as exc:
        services.instance_create(actor=SYSTEM, application=app, environment=env(tenant, "dev"),
                                 placement={"cells": ["cell-a"]})
    assert exc.value.field == "placement" and "cell cell-a is not bound to environment acme/dev" in exc.value.message
    with pytest.raises(DomainError) as exc:
        services.instance_create(actor=SYSTEM, application=app, environment=env(tenant, "dev"),
                                 placement={"replicaScheduling": {"type": "Divided", "totalReplicas": 3}})
    assert exc.value.field == "placement"
    instance = services.instance_create(actor=SYSTEM, application=app, environment=env(tenant, "prod"),
                                        placement={"cells": ["cell-a"], "replicaScheduling": {
                                            "type": "Divided", "weights": {"cell-a": 1}}})
    assert instance.placement["replicaScheduling"] == {"type": "Divided", "weights": {"cell-a": 1}}


# --- revisions ------------------------------------------------------------------------------

def test_revisions_pin_digests_are_numbered_and_immutable(app, cells, tenant, registry):
    first = services.revision_create(actor=SYSTEM, application=app, environment=env(tenant, "test"))
    image = first.spec["components"][0]["image"]
    assert image == f"registry.test:5000/acme/payments-api@{registry.images['acme/payments-api']['1.0']}"
    assert first.number == 1 and first.created
    # The same spec again: nothing new.
    mark = last_event()
    again = services.revision_create(actor=SYSTEM, application=app, environment=env(tenant, "test"))
    assert again.pk == first.pk and not again.created and actions(mark) == []
    # Editing creates a new revision; the first stays as it was.
    registry.push("acme/payments-api", "1.1")
    services.component_update(actor=SYSTEM, component=app.components.get(), data={"image": "acme/payments-api:1.1"})
    second = services.revision_create(actor=SYSTEM, application=app, environment=env(tenant, "test"))
    assert second.number == 2
    # Numbers are per environment.
    assert services.revision_create(actor=SYSTEM, application=app, environment=env(tenant, "dev")).number == 1
    first.comment = "changed"
    with pytest.raises(ImmutableRevision):
        first.save()
    assert AppRevision.objects.get(pk=first.pk).comment == ""
    # Secrets are there by reference only.
    assert first.spec["components"][0]["secret_env"]["names"] == ["DB_PASSWORD"]
    assert "s3cret" not in str(first.spec) and b"s3cret" not in bytes(first.secret_values)


def test_a_missing_image_names_the_component(app, cells, tenant):
    services.component_create(actor=SYSTEM, application=app, data={"name": "worker", "image": "acme/worker:9"})
    with pytest.raises(DomainError) as exc:
        services.revision_create(actor=SYSTEM, application=app, environment=env(tenant, "test"))
    assert exc.value.field == "components[1].image" and "acme/worker:9 was not found" in exc.value.message
    # Another tenant's repository does not exist for acme.
    with pytest.raises(DomainError) as exc:
        services.revision_create(actor=SYSTEM, application=app, environment=env(tenant, "test"),
                                 spec={"components": [{"name": "api", "image": "globex/core:1"}]})
    assert exc.value.field == "components[0].image"


def test_quota_refusal_names_the_quota_and_the_numbers(app, cells, tenant, registry):
    prod = env(tenant, "prod")
    tenant_services.quota_update(actor=SYSTEM, quota=prod.quota, cpu_millicores=2000, pods=3)
    make_build(app, registry.images["acme/payments-api"]["1.0"])
    # prod: 2 replicas on each of 3 clusters = 6 pods x 500m (the limit counts: the quota caps it too).
    with pytest.raises(DomainError) as exc:
        services.revision_create(actor=SYSTEM, application=app, environment=prod)
    assert exc.value.field == "quota"
    assert "cpu: needs 3000m, quota 2000m" in exc.value.message
    assert "pods: needs 6, quota 3" in exc.value.message
    assert "memory" not in exc.value.message


def test_prod_accepts_only_images_with_platform_provenance(app, cells, tenant, registry):
    prod = env(tenant, "prod")
    with pytest.raises(DomainError) as exc:
        services.revision_create(actor=SYSTEM, application=app, environment=prod)
    assert exc.value.field == "components[0].image" and exc.value.code == "provenance_required"
    value = registry.images["acme/payments-api"]["1.0"]
    make_build(app, value, provenance=False)
    with pytest.raises(DomainError, match="no build provenance"):
        services.revision_create(actor=SYSTEM, application=app, environment=prod)
    Build.objects.update(provenance_digest=digest("provenance"))
    revision = services.revision_create(actor=SYSTEM, application=app, environment=prod)
    assert revision.number == 1 and revision.build is not None


def test_diff_is_field_by_field_and_never_shows_secret_values(app, cells, tenant, registry):
    test = env(tenant, "test")
    first = services.revision_create(actor=SYSTEM, application=app, environment=test)
    component = app.components.get()
    registry.push("acme/payments-api", "1.1")
    services.component_update(actor=SYSTEM, component=component, data={
        "image": "acme/payments-api:1.1", "env": [{"name": "JAVA_OPTS", "value": "-Xmx512m"}],
        "secret_env": {"DB_PASSWORD": "another-secret"}, "replicas": {"prod": 4}})
    second = services.revision_create(actor=SYSTEM, application=app, environment=test)
    rows = {row["path"]: row for row in services.revision_diff(first, second)}
    assert set(rows) == {"components[api].image", "components[api].env[JAVA_OPTS].value",
                         "components[api].secret_env.version", "components[api].replicas.prod"}
    assert rows["components[api].env[JAVA_OPTS].value"] == {
        "path": "components[api].env[JAVA_OPTS].value", "before": "-Xmx256m", "after": "-Xmx512m"}
    assert "secret" not in str(rows).replace("secret_env", "")


def test_promotion_keeps_the_digests_and_goes_one_step_at_a_time(app, cells, tenant, registry):
    test, pre, prod = env(tenant, "test"), env(tenant, "pre"), env(tenant, "prod")
    revision = services.revision_create(actor=SYSTEM, application=app, environment=test)
    with pytest.raises(DomainError) as exc:
        services.revision_promote(actor=SYSTEM, revision=revision, environment=prod)
    assert exc.value.code == "promotion_order"
    on_pre = services.revision_promote(actor=SYSTEM, revision=revision, environment=pre)
    assert on_pre.spec == revision.spec and on_pre.spec_hash == revision.spec_hash
    assert on_pre.promoted_from == revision and on_pre.number == 1
    assert bytes(on_pre.secret_values) == bytes(revision.secret_values)
    assert services.revision_promote(actor=SYSTEM, revision=revision, environment=pre).pk == on_pre.pk
    with pytest.raises(DomainError, match="provenance"):
        services.revision_promote(actor=SYSTEM, revision=on_pre, environment=prod)
    make_build(app, registry.images["acme/payments-api"]["1.0"])
    on_prod = services.revision_promote(actor=SYSTEM, revision=on_pre, environment=prod)
    assert on_prod.spec["components"][0]["image"] == revision.spec["components"][0]["image"]
    assert on_prod.build is not None


# --- apply ----------------------------------------------------------------------------------

def test_apply_creates_owned_federated_resources_only_in_dev_and_test(app, cells, tenant):
    test = env(tenant, "test")
    revision = services.revision_create(actor=SYSTEM, application=app, environment=test)
    instance = app.instances.get(environment=test)
    mark = last_event()
    instance = services.instance_apply_revision(actor=SYSTEM, instance=instance, revision=revision)
    assert instance.baseline == revision and instance.state == "deployed"
    kinds = sorted(FederatedResource.objects.filter(environment=test).values_list("ftype__kind", "name"))
    config = [n for k, n in kinds if k == "ConfigMap"][0]
    env_secret = [n for k, n in kinds if k == "Secret" and n != "payments-api-pull"][0]
    assert kinds == sorted([("Deployment", "payments-api-api"), ("Service", "payments-api-api"),
                            ("ConfigMap", config), ("Secret", env_secret),
                            ("Secret", "payments-api-pull")])  # the built-in registry's login for the kubelets
    assert actions(mark).count("federation.resource.create") == 5 and actions(mark)[-1] == "app.instance.apply"
    workload = FederatedResource.objects.get(environment=test, ftype__kind="Deployment")
    labels = workload.template["metadata"]["labels"]
    assert labels["app.stratus.io/application"] == "payments-api"
    assert labels["app.stratus.io/instance"] == str(instance.pk) and labels["app.stratus.io/revision"] == "1"
    # Idempotent.
    mark = last_event()
    services.instance_apply_revision(actor=SYSTEM, instance=instance, revision=revision)
    assert actions(mark) == []
    # Nobody edits or deletes them behind the application's back.
    with pytest.raises(Conflict, match="managed by application acme/payments-api"):
        federation.federated_resource_update(actor=SYSTEM, resource=workload, placement={"cells": ["cell-a"]})
    with pytest.raises(Conflict, match="change it there"):
        federation.federated_resource_delete(actor=SYSTEM, resource=workload)
    # pre and prod: the first install is direct (nothing runs there to gray-release), with traffic
    # hooks for the releases that follow; every later change goes through a release.
    pre_revision = services.revision_promote(actor=SYSTEM, revision=revision, environment=env(tenant, "pre"))
    pre_instance = app.instances.get(environment__slug="pre")
    pre_instance = services.instance_apply_revision(actor=SYSTEM, instance=pre_instance, revision=pre_revision)
    assert pre_instance.baseline == pre_revision
    with pytest.raises(DomainError, match="use a release") as exc:
        services.instance_apply_revision(actor=SYSTEM, instance=pre_instance, revision=pre_revision)
    assert exc.value.code == "release_required"


def test_a_cloneset_needs_its_federated_type(app, cells, tenant):
    services.component_update(actor=SYSTEM, component=app.components.get(), data={"workload_kind": "cloneset"})
    test = env(tenant, "test")
    revision = services.revision_create(actor=SYSTEM, application=app, environment=test)
    with pytest.raises(DomainError) as exc:
        services.instance_apply_revision(actor=SYSTEM, instance=app.instances.get(environment=test),
                                         revision=revision)
    assert exc.value.field == "components[0].workload_kind" and "CloneSet" in exc.value.message

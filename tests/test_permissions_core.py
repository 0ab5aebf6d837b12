"""The permission module against the role matrix, tokens and object-level grants."""
import pytest
from guardian.shortcuts import assign_perm

from paas.actors import Actor
from paas.permissions import can
from tenants.models import ApiToken
from tenants.roles import ROLE_PERMISSIONS, TENANT_PERMISSIONS

from .factories import make_token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", list(ROLE_PERMISSIONS))
def test_role_grants_exactly_its_row_of_the_matrix(personas, tenant, role):
    actor = Actor.for_user(personas[role])
    granted = {c for c in TENANT_PERMISSIONS if can(actor, c, tenant)}
    assert granted == set(ROLE_PERMISSIONS[role])


def test_member_of_one_tenant_has_nothing_on_another(personas, tenant, other_tenant):
    outsider = Actor.for_user(personas["outsider"])
    assert not any(can(outsider, c, tenant) for c in TENANT_PERMISSIONS)
    assert can(outsider, "manage_members", other_tenant)


def test_read_only_token_keeps_only_read_permissions(personas, tenant):
    token, _ = make_token(personas["owner"], tenant, scope=ApiToken.Scope.READ)
    actor = Actor.for_token(token)
    assert can(actor, "view_tenant", tenant)
    assert can(actor, "view_audit", tenant)
    assert not can(actor, "manage_members", tenant)


def test_token_is_confined_to_its_tenant(personas, tenant, other_tenant):
    from tests.factories import add_member

    add_member(other_tenant, personas["owner"], "owner")
    token, _ = make_token(personas["owner"], tenant)
    assert can(Actor.for_token(token), "manage_members", tenant)
    assert not can(Actor.for_token(token), "view_tenant", other_tenant)


def test_object_level_grant_applies_to_that_object_only(personas, tenant):
    viewer = Actor.for_user(personas["viewer"])
    dev_env = tenant.environments.get(slug="dev")
    prod_env = tenant.environments.get(slug="prod")
    assert not can(viewer, "release_application", dev_env)
    assign_perm("tenants.release_application", personas["viewer"], dev_env)
    assert can(viewer, "release_application", dev_env)
    assert not can(viewer, "release_application", prod_env)
    assert not can(viewer, "release_application", tenant)


def test_archived_tenant_is_read_only(personas, tenant):
    tenant.is_active = False
    tenant.save()
    owner = Actor.for_user(personas["owner"])
    assert can(owner, "view_tenant", tenant)
    assert not can(owner, "manage_members", tenant)

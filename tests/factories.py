"""Factories for tests. Tenants are created through the service so they get the
same environments, quotas and audit rows as real ones."""
import factory
from django.contrib.auth import get_user_model

from paas.actors import Actor
from tenants import services
from tenants.models import ApiToken, Tenant

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


SYSTEM = Actor.for_system("tests")


def make_tenant(slug: str, *, name: str | None = None, default_environments: bool = True) -> Tenant:
    return services.tenant_create(actor=SYSTEM, name=name or slug.title(), slug=slug,
                                  default_environments=default_environments)


def add_member(tenant: Tenant, user, role: str):
    return services.member_add(actor=SYSTEM, tenant=tenant, user=user, role=role)


def make_token(user, tenant: Tenant, scope: str = ApiToken.Scope.WRITE, **kwargs) -> tuple[ApiToken, str]:
    return services.token_create(actor=Actor.for_user(user), tenant=tenant, name=kwargs.pop("name", "test"),
                                 scope=scope, **kwargs)

"""Background jobs for tenants: re-read rows by primary key, call services."""
import logging

from django.db import transaction

from paas.actors import Actor
from paas.tasks import idempotent_task

from . import services
from .models import Membership

logger = logging.getLogger(__name__)


@idempotent_task(name="tenants.tasks.expire_api_tokens")
def expire_api_tokens() -> int:
    """Beat job (settings.CELERY_BEAT_SCHEDULE): revoke tokens past their expiry."""
    return services.tokens_expire_sweep(actor=Actor.for_system("beat.expire_api_tokens"))


@idempotent_task(name="tenants.tasks.sync_membership_permissions")
def sync_membership_permissions(membership_id: int) -> str | None:
    """Bring one member's object permissions back in line with their role, e.g. after
    a release changed the role matrix (tenants.roles). Derived state: not audited."""
    membership = Membership.objects.select_related("user", "tenant").filter(pk=membership_id).first()
    if membership is None:
        logger.info("membership %s no longer exists; nothing to sync", membership_id)
        return None
    with transaction.atomic():
        services.sync_member_permissions(membership.user, membership.tenant, membership.role)
    return membership.role


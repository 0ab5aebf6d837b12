from django.core.management.base import BaseCommand

from tenants.models import Membership
from tenants.services import sync_member_permissions


class Command(BaseCommand):
    help = ("Re-derive every member's guardian permissions from their role "
            "(run after changing tenants/roles.py; object-level grants are untouched).")

    def handle(self, *args, **options):
        count = 0
        for membership in Membership.objects.select_related("user", "tenant").iterator():
            sync_member_permissions(membership.user, membership.tenant, membership.role)
            count += 1
        self.stdout.write(self.style.SUCCESS(f"Synchronised {count} memberships."))

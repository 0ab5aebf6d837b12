"""Releases in the admin: read-only rows with their steps and events, and pause/abort/rollback
actions that go through the services (a staff user without the permission changes nothing)."""
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from releases import services
from releases.models import Release

from ..applications.conftest import SYSTEM
from .conftest import revisions

pytestmark = pytest.mark.django_db


def test_admin_lists_and_acts_through_the_services(app, personas, login):
    instance, first, second = revisions(app, "test")
    release = services.release_create(actor=SYSTEM, instance=instance, target=second)
    Release.objects.filter(pk=release.pk).update(state=Release.State.WAITING)
    url = reverse("admin:releases_release_changelist")
    operator = personas["operator"]
    operator.user_permissions.add(*Permission.objects.filter(content_type__app_label="releases",
                                                             codename__in=["view_release", "change_release"]))
    staff = login(operator)
    assert staff.get(url).status_code == 200
    page = staff.get(reverse("admin:releases_release_change", args=[release.pk]))
    assert page.status_code == 200 and b"release.created" in page.content and b"Beta" in page.content
    staff.post(url, {"action": "pause", "_selected_action": [release.pk]}, follow=True)
    assert Release.objects.get(pk=release.pk).state == Release.State.WAITING  # no release_application on acme
    root = login(personas["superuser"])
    response = root.post(url, {"action": "pause", "_selected_action": [release.pk]}, follow=True)
    assert response.status_code == 200
    assert Release.objects.get(pk=release.pk).state == Release.State.PAUSED
    root.post(url, {"action": "abort", "_selected_action": [release.pk]}, follow=True)
    assert Release.objects.get(pk=release.pk).state == Release.State.ABORTED
    providers = reverse("admin:releases_trafficprovider_changelist")
    assert root.get(providers).status_code == 200

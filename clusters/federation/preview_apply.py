"""Saving a change from its preview page: exactly the previewed input, and only if
the resource is still what the preview was compared with.

The preview page carries the generation it was computed on. Between the preview
and the click someone else may have saved: applying then would overwrite a
change the user never saw in the diff, so it is refused (StalePreview) and the
page shows the preview again, against the new state. The check holds the row
lock that the update itself takes, so no save can slip in between.
"""
from django.db import transaction
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.errors import Conflict
from paas.permissions import authorize

from . import services
from .models import FederatedResource


class StalePreview(Conflict):
    code = "stale_preview"


def federated_resource_apply_previewed(*, actor: Actor, resource: FederatedResource, base_generation,
                                       template, placement, overrides) -> FederatedResource:
    """federated_resource_update, refused when the resource's generation is no longer
    `base_generation` (the one the preview was computed on)."""
    authorize(actor, "manage_applications", resource, action="federation.resource.update")
    with transaction.atomic():
        current = FederatedResource.objects.select_for_update().only("generation").get(pk=resource.pk)
        if base_generation != current.generation:
            raise StalePreview(
                _("%(name)s changed since this preview was computed (it was generation %(base)s, it is now "
                  "%(now)s): nothing was saved. Check the differences again below.")
                % {"name": resource.name, "base": base_generation if base_generation is not None else "?",
                   "now": current.generation})
        return services.federated_resource_update(actor=actor, resource=resource, template=template,
                                                  placement=placement, overrides=overrides)

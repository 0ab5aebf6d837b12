"""Every write to applications, components, dependencies, instances and revisions.

Each service takes an explicit actor, checks permission first (manage_applications on the
application or tenant; release_application on the environment for applying), validates
(DomainError naming the field), and in one transaction changes the rows, records the audit event
and, on commit, pushes a live event. Asking for the state that already holds changes and records
nothing. Kubernetes objects are written only through clusters.federation.services.
"""
from .applications import application_create, application_delete, application_update
from .components import component_create, component_delete, component_update
from .dependencies import dependency_add, dependency_remove
from .instances import instance_apply_revision, instance_create, instance_update
from .revisions import revision_create, revision_diff, revision_promote

__all__ = [
    "application_create", "application_delete", "application_update",
    "component_create", "component_delete", "component_update",
    "dependency_add", "dependency_remove",
    "instance_apply_revision", "instance_create", "instance_update",
    "revision_create", "revision_diff", "revision_promote",
]

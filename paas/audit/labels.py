"""Audit actions in words: the one registry of labels for every action code.

Events store a stable code ("tenant.member.add"); people read "Member added". The
audit pages, the dashboard, the admin and the API (`action_label`) all call
`action_label()`. tests/test_audit_labels.py collects every code the code base can
emit (string and f-string `action=` arguments) and fails when one has no label here,
so a new action cannot ship as a bare code.
"""
import re

from django.apps import apps
from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    # sign-in
    "auth.login": _("Signed in"),
    "auth.logout": _("Signed out"),
    "auth.login.failed": _("Sign-in failed"),
    "auth.token.failed": _("API token refused"),
    "auth.lockout": _("Account locked after failed sign-ins"),
    # audit trail
    "audit.export": _("Audit trail exported"),
    # tenants
    "tenant.create": _("Tenant created"),
    "tenant.update": _("Tenant changed"),
    "tenant.archive": _("Tenant archived"),
    "tenant.reactivate": _("Tenant reactivated"),
    "tenant.ping": _("Tenant notified"),
    "tenant.environment.create": _("Environment created"),
    "tenant.environment.update": _("Environment changed"),
    "tenant.environment.delete": _("Environment deleted"),
    "tenant.member.add": _("Member added"),
    "tenant.member.change_role": _("Member's role changed"),
    "tenant.member.remove": _("Member removed"),
    "tenant.quota.create": _("Quota set up"),
    "tenant.quota.update": _("Quota changed"),
    "tenant.quota_request.create": _("Quota requested"),
    "tenant.quota_request.cancel": _("Quota request cancelled"),
    "tenant.quota_request.approve": _("Quota request approved"),
    "tenant.quota_request.reject": _("Quota request rejected"),
    "tenant.quota_request.list": _("Quota request queue opened"),
    "tenant.token.create": _("API token created"),
    "tenant.token.revoke": _("API token revoked"),
    "tenant.token.expire": _("API token expired"),
    # clusters and topology
    "cluster.register": _("Cluster registered"),
    "cluster.update": _("Cluster changed"),
    "cluster.remove": _("Cluster removed"),
    "cluster.credentials.replace": _("Cluster credentials replaced"),
    "cluster.cordon": _("Cluster cordoned"),
    "cluster.uncordon": _("Cluster uncordoned"),
    "cluster.propagation.pause": _("Propagation to a cluster paused"),
    "cluster.propagation.resume": _("Propagation to a cluster resumed"),
    "cluster.health.check": _("Cluster health checked"),
    "cluster.health.change": _("Cluster health changed"),
    "cluster.binding.create": _("Environment bound to clusters"),
    "cluster.binding.delete": _("Environment binding removed"),
    "cluster.binding_request.create": _("Environment binding requested"),
    "cluster.binding_request.cancel": _("Binding request cancelled"),
    "cluster.binding_request.decide": _("Binding request decided"),
    "cluster.binding_request.approve": _("Binding request approved"),
    "cluster.binding_request.reject": _("Binding request rejected"),
    "topology.region.create": _("Region created"),
    "topology.region.update": _("Region changed"),
    "topology.region.delete": _("Region deleted"),
    "topology.zone.create": _("Zone created"),
    "topology.zone.update": _("Zone changed"),
    "topology.zone.delete": _("Zone deleted"),
    "topology.zone.mark_failed": _("Zone marked failed"),
    "topology.zone.mark_recovered": _("Zone recovered"),
    "topology.cell.create": _("Cell created"),
    "topology.cell.update": _("Cell changed"),
    "topology.cell.delete": _("Cell deleted"),
    "topology.cell.mark_failed": _("Cell marked failed"),
    "topology.cell.mark_recovered": _("Cell recovered"),
    "platform.propagation.switch": _("Platform propagation switched"),
    "platform.maintenance": _("Platform maintenance"),
    "platform.check": _("Platform check"),
    "platform.ping": _("Platform notified"),
    # builds
    "artifact.upload": _("Build artifact uploaded"),
    "build.start": _("Build started"),
    "build.cancel": _("Build cancelled"),
    "build.retry": _("Build retried after its worker was lost"),
    "build.finish": _("Build finished"),
    # federation
    "federation.resource.create": _("Federated resource created"),
    "federation.resource.update": _("Federated resource changed"),
    "federation.resource.delete": _("Federated resource deleted"),
    "federation.resource.preview": _("Federated resource change previewed"),
    "federation.replan": _("Placements recomputed"),
    "federation.handoff.release": _("Replicas moved: old copies removed once the new ones were ready"),
    "federation.handoff.force": _("Replica move forced before the new copies were ready"),
    "federation.logs.view": _("Pod logs viewed"),
    "federation.logs.download": _("Pod logs downloaded"),
    "federation.logs.follow": _("Pod logs followed"),
    "federation.type.register": _("Federated type registered"),
    "federation.type.update": _("Federated type changed"),
    # Dockerfiles
    "dockerfile.save": _("Dockerfile saved"),
    "dockerfile.generate": _("Dockerfile generated from a template"),
    "dockerfile.lint": _("Dockerfile linted"),
    "dockerfile.base_image.create": _("Base image allowed"),
    "dockerfile.base_image.update": _("Allowed base image changed"),
    "dockerfile.base_image.delete": _("Base image removed from the allowed list"),
    # applications
    "app.application.create": _("Application created"),
    "app.application.update": _("Application changed"),
    "app.application.delete": _("Application deleted"),
    "app.component.create": _("Component added"),
    "app.component.update": _("Component changed"),
    "app.component.delete": _("Component removed"),
    "app.dependency.add": _("Application dependency added"),
    "app.dependency.remove": _("Application dependency removed"),
    "app.instance.create": _("Application instance created"),
    "app.instance.update": _("Application instance placement changed"),
    "app.instance.apply": _("Revision applied to an instance"),
    "app.revision.create": _("Revision created"),
    "app.revision.promote": _("Revision promoted"),
    # image registry (built-in and external)
    "registry.manifest.push": _("Image pushed"),
    "registry.manifest.delete": _("Image deleted"),
    "registry.tag.delete": _("Image tag deleted"),
    "registry.push": _("Push to the image registry"),
    "registry.delete": _("Delete in the image registry"),
    "registry.external.create": _("External registry added"),
    "registry.external.update": _("External registry changed"),
    "registry.external.delete": _("External registry removed"),
    # releases: what people do ...
    "release.create": _("Release created"),
    "release.preview": _("Release plan previewed"),
    "release.start": _("Release started"),
    "release.confirm": _("Next release step confirmed"),
    "release.pause": _("Release paused"),
    "release.resume": _("Release resumed"),
    "release.abort": _("Release aborted"),
    "release.rollback": _("Release rolled back"),
    "release.traffic_provider.create": _("Traffic provider added"),
    "release.traffic_provider.update": _("Traffic provider changed"),
    "release.traffic_provider.delete": _("Traffic provider removed"),
    # ... and what the release executor records as the system
    "app.instance.release": _("Release finished on an instance (new baseline)"),
    "release.paused": _("Release paused by the executor"),
    "release.stopped": _("Release stopped by a stop switch"),
    "release.waiting": _("Release waiting for confirmation"),
    "release.succeeded": _("Release succeeded"),
    "release.failed": _("Release failed"),
    "release.aborted": _("Release stopped where it was"),
    "release.rollback_started": _("Release rollback started"),
    "release.rolled_back": _("Release rolled back to its baseline"),
    "step.started": _("Release step started"),
    "step.verifying": _("Release step checking its gates"),
    "step.succeeded": _("Release step succeeded"),
    "step.failed": _("Release step failed"),
    "gate.result": _("Release health gate checked"),
}

# Codes with a variable part: the Django admin's (admin.<model>.<verb>) and refused
# requests the audit middleware records (request.<method>).
_ADMIN = re.compile(r"^admin\.(?P<model>[a-z0-9_]+)\.(?P<verb>add|change|delete|permissions)$")
_ADMIN_LABELS = {
    "add": _("%(model)s added in the admin"),
    "change": _("%(model)s changed in the admin"),
    "delete": _("%(model)s deleted in the admin"),
    "permissions": _("Permissions of a %(model)s changed in the admin"),
}
_REQUEST = re.compile(r"^request\.(?P<method>post|put|patch|delete)$")


def _model_name(model_name: str) -> str:
    for model in apps.get_models():
        if model._meta.model_name == model_name:
            return str(model._meta.verbose_name).capitalize()
    return model_name


def has_label(code: str) -> bool:
    return code in ACTION_LABELS or bool(_ADMIN.match(code) or _REQUEST.match(code))


def action_label(code: str) -> str:
    """Words for an action code, in the active language; an unknown code (an event
    written by an older version) is shown as it is rather than hidden."""
    label = ACTION_LABELS.get(code)
    if label is not None:
        return str(label)
    match = _ADMIN.match(code)
    if match:
        return str(_ADMIN_LABELS[match["verb"]]) % {"model": _model_name(match["model"])}
    match = _REQUEST.match(code)
    if match:
        return str(_("Refused %(method)s request")) % {"method": match["method"].upper()}
    return code

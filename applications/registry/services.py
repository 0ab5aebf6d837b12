"""Registry writes that are events: a manifest pushed, a manifest or tag deleted; external
registries added, changed, removed (their passwords never in the audit trail).

Each runs in one transaction, checks permission (tenant repositories: ``manage_applications``;
platform/: ``registry.push_platform_image``), records its audit event and, for a tenant's
repository, pushes a live event after commit. Blobs are not audited one by one (blobs.py).
"""
import re

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from paas.actors import Actor
from paas.audit.services import audit_record, diff
from paas.errors import Conflict, DomainError
from paas.permissions import NotPermitted, authorize, authorize_platform
from paas.realtime import emit
from tenants.models import Tenant

from . import blobs, external, manifests, names, storage
from .auth import PLATFORM_PUSH_PERMISSION
from .exceptions import DigestInvalid, ManifestBlobUnknown, ManifestInUse, ManifestInvalid
from .models import ExternalRegistry, Manifest, Repository, RepositoryBlob, Tag

LOOKUP_BATCH = 500


def authorize_repository(actor: Actor, repository: Repository | None, *, action: str, name: str = "") -> None:
    """Push or delete in a repository, existing or (`name` only) not yet (raises NotPermitted,
    recording the refusal). Called before the transaction, so the refusal's record stays."""
    name = repository.name if repository is not None else name
    if names.is_platform(name):
        authorize_platform(actor, PLATFORM_PUSH_PERMISSION, ("registry.repository", "", name), action=action)
        return
    tenant = repository.tenant if repository is not None else Tenant.objects.filter(slug=names.namespace(name)).first()
    if tenant is None:
        raise NotPermitted(gettext("There is no such tenant."))
    authorize(actor, "manage_applications", tenant, action=action)


def _pushed_by(actor: Actor):
    user = actor.user
    return user, (actor.label[:200] if not actor.is_system else f"system:{actor.system}")


def _notify(actor: Actor, repository: Repository, kind: str, **extra) -> None:
    if repository.tenant_id is None:
        return
    emit.to_tenant(repository.tenant_id, {
        "type": kind, "tenant": repository.tenant.slug, "repository": repository.name,
        "actor": emit.actor_name(actor), "url": f"/registry/{repository.name}/", **extra,
    }, permission="view_tenant")


def _check_blobs(repository: Repository, parsed: manifests.Parsed) -> list:
    """The config and layer blobs, all readable in the repository with the sizes stated."""
    wanted = {d.digest: d for d in parsed.blobs}
    found = {}
    keys = list(wanted)
    for start in range(0, len(keys), LOOKUP_BATCH):
        batch = keys[start:start + LOOKUP_BATCH]
        for link in RepositoryBlob.objects.filter(repository=repository, blob__digest__in=batch).select_related("blob"):
            found[link.blob.digest] = link.blob
    for digest, descriptor in wanted.items():
        blob = found.get(digest)
        if blob is None:
            raise ManifestBlobUnknown(f"blob {digest} is not in {repository.name}", detail={"digest": digest})
        if blob.size != descriptor.size:
            raise ManifestInvalid(f"blob {digest} has {blob.size} bytes, the manifest says {descriptor.size}",
                                  detail={"digest": digest})
    return list(found.values())


def _check_children(repository: Repository, parsed: manifests.Parsed) -> list[Manifest]:
    wanted = {d.digest for d in parsed.manifests}
    found = {}
    keys = list(wanted)
    for start in range(0, len(keys), LOOKUP_BATCH):
        for manifest in Manifest.objects.filter(repository=repository, digest__in=keys[start:start + LOOKUP_BATCH]):
            found[manifest.digest] = manifest
    for digest in wanted:
        if digest not in found:
            raise ManifestBlobUnknown(f"manifest {digest} is not in {repository.name}", detail={"digest": digest})
    return list(found.values())


def manifest_push(*, actor: Actor, name: str, reference: str, content: bytes,
                  content_type: str) -> Manifest:
    """Store a manifest under a tag or its digest. Pushing what is already there (same manifest,
    tag already on it) changes nothing and records nothing."""
    try:
        parsed = manifests.parse(content, content_type)
    except manifests.ManifestInvalid as exc:
        raise ManifestInvalid(str(exc)) from None
    path, digest = storage.write_bytes(content)
    try:
        if names.is_digest(reference):
            if reference != digest:
                raise DigestInvalid(f"the manifest's digest is {digest}, not {reference[:80]}",
                                    detail={"expected": reference[:80], "actual": digest})
            tag_name = None
        elif names.valid_tag(reference):
            tag_name = reference
        else:
            raise ManifestInvalid(f"invalid tag {reference[:130]!r}", detail={"tag": reference[:130]})
        authorize_repository(actor, None, name=name, action="registry.manifest.push")
        with transaction.atomic():
            repository = blobs.repository_for_push(name)
            manifest = _save_manifest(actor, repository, parsed, digest, path, content, tag_name)
    finally:
        storage.discard(path)  # moved into place by then unless something failed
    return manifest


def _save_manifest(actor, repository, parsed, digest, path, content, tag_name):
    layer_blobs = _check_blobs(repository, parsed)
    children = _check_children(repository, parsed)
    own = blobs.store(repository, path, digest, len(content))
    user, label = _pushed_by(actor)
    total = len(content) + (sum(c.total_size for c in children) if parsed.is_index
                            else sum(d.size for d in parsed.blobs))
    manifest, created = Manifest.objects.get_or_create(repository=repository, digest=digest, defaults={
        "media_type": parsed.media_type, "size": len(content), "blob": own,
        "subject_digest": parsed.subject.digest if parsed.subject else "",
        "artifact_type": parsed.artifact_type[:255],
        "config_digest": parsed.config.digest if parsed.config else "",
        "annotations": parsed.annotations, "layer_count": len(parsed.layers), "total_size": total,
        "pushed_by": user, "pushed_by_label": label,
    })
    if created:
        manifest.blobs.set(layer_blobs)
        manifest.children.set(children)
    tag_moved = False
    before_digest = None
    if tag_name is not None:
        tag = Tag.objects.select_for_update().filter(repository=repository, name=tag_name).first()
        if tag is None:
            Tag.objects.create(repository=repository, name=tag_name, manifest=manifest, pushed_by=user,
                               pushed_by_label=label)
            tag_moved = True
        elif tag.manifest_id != manifest.pk:
            before_digest = tag.manifest.digest
            tag.manifest, tag.pushed_by, tag.pushed_by_label = manifest, user, label
            tag.save()
            tag_moved = True
    if not created and not tag_moved:
        return manifest
    repository.last_push_at = timezone.now()
    repository.save(update_fields=["last_push_at"])
    after = {"repository": repository.name, "tag": tag_name, "digest": digest, "media_type": parsed.media_type,
             "layers": len(parsed.layers), "manifests": len(parsed.manifests), "size": total}
    if parsed.subject:
        after["subject"] = parsed.subject.digest
    if parsed.artifact_type:
        after["artifact_type"] = parsed.artifact_type
    audit_record(actor=actor, action="registry.manifest.push", target=manifest, tenant=repository.tenant,
                 before={"tag": tag_name, "digest": before_digest} if before_digest else None, after=after)
    _notify(actor, repository, "registry.pushed", tag=tag_name or "", digest=digest)
    return manifest


def manifest_delete(*, actor: Actor, manifest: Manifest) -> None:
    """Delete a manifest and the tags on it (its blobs stay until garbage collection)."""
    repository = manifest.repository
    authorize_repository(actor, repository, action="registry.manifest.delete")
    parents = list(manifest.parents.values_list("digest", flat=True)[:5])
    if parents:
        raise ManifestInUse(gettext("The index %(digest)s lists this manifest: delete the index first.")
                            % {"digest": parents[0]}, detail={"indexes": parents})
    with transaction.atomic():
        tags = sorted(manifest.tags.values_list("name", flat=True))
        before = {"repository": repository.name, "digest": manifest.digest, "tags": tags,
                  "media_type": manifest.media_type, "size": manifest.total_size}
        audit_record(actor=actor, action="registry.manifest.delete", target=manifest, tenant=repository.tenant,
                     before=before)
        manifest.delete()
    _notify(actor, repository, "registry.deleted", digest=before["digest"])


def tag_delete(*, actor: Actor, tag: Tag) -> None:
    """Remove a tag; the manifest stays, reachable by its digest."""
    repository = tag.repository
    authorize_repository(actor, repository, action="registry.tag.delete")
    with transaction.atomic():
        before = {"repository": repository.name, "tag": tag.name, "digest": tag.manifest.digest}
        audit_record(actor=actor, action="registry.tag.delete", target=tag, tenant=repository.tenant,
                     before=before)
        tag.delete()
    _notify(actor, repository, "registry.deleted", tag=before["tag"], digest=before["digest"])


# --- external registries ----------------------------------------------------------------------

EXTERNAL_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
EXTERNAL_FIELDS = ("name", "url", "username", "insecure", "description")


def _authorize_external(actor: Actor, tenant: Tenant | None, verb: str, target) -> None:
    """A tenant's entries: its owners and admins (change_tenant); platform-wide ones: operators."""
    action = f"registry.external.{verb}"
    if tenant is None:
        perm = {"create": "add", "update": "change", "delete": "delete"}[verb]
        authorize_platform(actor, f"registry.{perm}_externalregistry", target, action=action)
    else:
        authorize(actor, "change_tenant", tenant, action=action)


def _clean_external(fields: dict) -> dict:
    cleaned = {}
    if "name" in fields:
        name = str(fields["name"]).strip()
        if not EXTERNAL_NAME.match(name):
            raise DomainError(gettext("Use 1-40 lowercase letters, digits and dashes."), field="name")
        cleaned["name"] = name
    if "url" in fields:
        cleaned["url"], cleaned["host"] = external.parse_url(str(fields["url"]))
        if len(cleaned["url"]) > 300:
            raise DomainError(gettext("The address is too long."), field="url")
    for key, limit in (("username", 200), ("description", 200)):
        if key in fields:
            value = str(fields[key]).strip()
            if len(value) > limit:
                raise DomainError(gettext("At most %(n)s characters.") % {"n": limit}, field=key)
            cleaned[key] = value
    if "insecure" in fields:
        cleaned["insecure"] = bool(fields["insecure"])
    if "password" in fields:
        password = str(fields["password"])
        if len(password) > 4096:
            raise DomainError(gettext("At most %(n)s characters.") % {"n": 4096}, field="password")
        cleaned["password_encrypted"] = external.encrypt_password(password)
    return cleaned


def _unique_external(tenant: Tenant | None, name: str, exclude_pk=None) -> None:
    clash = ExternalRegistry.objects.filter(tenant=tenant, name=name).exclude(pk=exclude_pk)
    if clash.exists():
        raise Conflict(gettext("There is already a registry named %(name)s here.") % {"name": name}, field="name")


def external_registry_create(*, actor: Actor, tenant: Tenant | None, name: str, url: str, username: str = "",
                             password: str = "", insecure: bool = False, description: str = "") -> ExternalRegistry:
    _authorize_external(actor, tenant, "create", ("registry.externalregistry", "", name))
    cleaned = _clean_external({"name": name, "url": url, "username": username, "password": password,
                               "insecure": insecure, "description": description})
    with transaction.atomic():
        _unique_external(tenant, cleaned["name"])
        registry = ExternalRegistry.objects.create(tenant=tenant, created_by=actor.user, **cleaned)
        audit_record(actor=actor, action="registry.external.create", target=registry, tenant=tenant,
                     after=registry.audit_fields())
    return registry


def external_registry_update(*, actor: Actor, registry: ExternalRegistry, **fields) -> ExternalRegistry:
    """Change some fields; `password` given replaces the stored one ("" removes it)."""
    _authorize_external(actor, registry.tenant, "update", registry)
    unknown = set(fields) - set(EXTERNAL_FIELDS) - {"password"}
    if unknown:
        raise DomainError(gettext("Unknown field."), field=sorted(unknown)[0])
    cleaned = _clean_external(fields)
    with transaction.atomic():
        registry = ExternalRegistry.objects.select_for_update().get(pk=registry.pk)
        before = registry.audit_fields()
        password_changed = "password_encrypted" in cleaned and (
            external.password_of(registry) != str(fields["password"]))
        if "name" in cleaned:
            _unique_external(registry.tenant, cleaned["name"], exclude_pk=registry.pk)
        for key, value in cleaned.items():
            if key != "password_encrypted" or password_changed:
                setattr(registry, key, value)
        after = registry.audit_fields()
        old, new = diff(before, after)
        if not new and not password_changed:
            return registry
        registry.save()
        if password_changed:
            new["login_changed"] = True
        audit_record(actor=actor, action="registry.external.update", target=registry, tenant=registry.tenant,
                     before=old, after=new)
    return registry


def external_registry_delete(*, actor: Actor, registry: ExternalRegistry) -> None:
    _authorize_external(actor, registry.tenant, "delete", registry)
    with transaction.atomic():
        audit_record(actor=actor, action="registry.external.delete", target=registry, tenant=registry.tenant,
                     before=registry.audit_fields())
        registry.delete()

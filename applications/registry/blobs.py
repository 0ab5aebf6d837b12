"""Blobs and upload sessions: which bytes exist and in which repositories they may be read.

Not audited (a push is audited once, at its manifest) and not permission-checked here: the /v2/
views have checked the caller's token for the repository before calling these.
"""
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants.models import Tenant

from . import names, storage
from .exceptions import NameInvalid
from .models import Blob, Repository, RepositoryBlob, Upload

# A blob seen in use is marked at most this often (a HEAD before each push would otherwise write).
TOUCH_EVERY = timedelta(minutes=1)


def repository_for_push(name: str) -> Repository:
    """The repository, created on its first push (the caller may push to `name`)."""
    repository = Repository.objects.filter(name=name).first()
    if repository is not None:
        return repository
    tenant = None
    if not names.is_platform(name):
        tenant = Tenant.objects.filter(slug=names.namespace(name)).first()
        if tenant is None:
            raise NameInvalid(f"no tenant {names.namespace(name)!r}", detail={"name": name})
    try:
        with transaction.atomic():
            return Repository.objects.create(name=name, tenant=tenant)
    except IntegrityError:  # created by a concurrent push
        return Repository.objects.get(name=name)


def linked_blob(repository: Repository | None, digest: str) -> Blob | None:
    """The blob, if readable in the repository (pushed or mounted there)."""
    if repository is None or not names.valid_digest(digest):
        return None
    return Blob.objects.filter(digest=digest, links__repository=repository).first()


def touch(blob: Blob) -> None:
    now = timezone.now()
    if blob.touched_at is None or now - blob.touched_at > TOUCH_EVERY:
        Blob.objects.filter(pk=blob.pk).update(touched_at=now)
        blob.touched_at = now


def link(repository: Repository, digest: str, size: int) -> Blob:
    """Record the blob (stored once for everyone) and make it readable in the repository."""
    blob, created = Blob.objects.get_or_create(digest=digest, defaults={"size": size})
    if not created:
        touch(blob)
    RepositoryBlob.objects.get_or_create(repository=repository, blob=blob)
    return blob


def store(repository: Repository, path, digest: str, size: int) -> Blob:
    """Move a received, verified file into place and link it. The row is marked used first and
    the file moved in after, so a garbage collection running meanwhile cannot leave a row whose
    file it has just removed (it spares blobs touched within its grace period)."""
    blob = link(repository, digest, size)
    storage.commit(path, digest)
    return blob


def mount(repository: Repository, source: Repository | None, digest: str) -> Blob | None:
    """Link a blob of `source` into `repository` without its bytes being sent again."""
    blob = linked_blob(source, digest)
    if blob is None or not storage.blob_exists(digest):
        return None
    touch(blob)
    RepositoryBlob.objects.get_or_create(repository=repository, blob=blob)
    return blob


# --- upload sessions -----------------------------------------------------------------------

def upload_create(repository: Repository, user) -> Upload:
    upload = Upload.objects.create(repository=repository, created_by=user)
    storage.create_upload_file(upload.pk)
    return upload


def upload_get(repository: Repository | None, upload_id: str) -> Upload | None:
    import uuid

    try:
        key = uuid.UUID(upload_id)
    except ValueError:
        return None
    if repository is None:
        return None
    return Upload.objects.filter(pk=key, repository=repository).first()


def upload_progress(upload: Upload, size: int) -> None:
    Upload.objects.filter(pk=upload.pk).update(size=size, updated_at=timezone.now())
    upload.size = size


def upload_finish(upload: Upload, digest: str) -> Blob:
    """Turn a complete session into a blob (the caller checked the digest)."""
    size = storage.upload_size(upload.pk)
    blob = store(upload.repository, storage.upload_path(upload.pk), digest, size)
    upload.delete()
    return blob


def upload_delete(upload: Upload) -> None:
    storage.remove_upload(upload.pk)
    upload.delete()

"""The portal's multipart artifact upload: an upload handler that writes the one file field
("file") to a HashingWriter as it is parsed, so the body never sits in memory and the
SHA-256 is known when the last byte arrives.

Django's default handlers keep files under FILE_UPLOAD_MAX_MEMORY_SIZE in memory and
write larger ones to a temporary file that would then have to be read again to hash it
and copied into the artifact store. This one replaces them for the upload view only.
"""
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload

from .storage import ArtifactTooLarge, HashingWriter

FIELD = "file"


class HashedUpload(UploadedFile):
    """The uploaded file as request.FILES gives it; `writer` holds the hash, size and temp path."""

    def __init__(self, writer: HashingWriter, name: str, content_type: str, charset):
        super().__init__(open(writer.path, "rb"), name, content_type, writer.size, charset)  # noqa: SIM115
        self.writer = writer


class HashingUploadHandler(FileUploadHandler):
    chunk_size = 256 * 1024

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.writer: HashingWriter | None = None
        self.too_large: ArtifactTooLarge | None = None

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        if field_name != FIELD or self.writer is not None or self.too_large is not None:
            raise SkipFile()  # one artifact per upload; other file fields are ignored
        self.writer = HashingWriter(self.limit)

    def receive_data_chunk(self, raw_data, start):
        if self.writer is None:
            return None
        try:
            self.writer.write(raw_data)
        except ArtifactTooLarge as exc:
            self.too_large = exc
            self.writer = None  # discarded by write()
            # Read and drop the rest of the body rather than resetting the connection: the
            # browser then shows our answer instead of a network error.
            raise StopUpload(connection_reset=False) from None
        return None

    def file_complete(self, file_size):
        if self.writer is None:
            return None
        self.writer.close()
        return HashedUpload(self.writer, self.file_name, self.content_type, self.charset)

    def upload_interrupted(self):
        self.discard()

    def discard(self) -> None:
        """Remove the temporary file unless it was stored (then this does nothing)."""
        if self.writer is not None:
            self.writer.discard()

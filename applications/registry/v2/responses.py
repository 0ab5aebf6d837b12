"""Streaming a blob's bytes back without holding them in memory.

Under ASGI (daphne) Django serves a streaming response from a *synchronous* iterator by first
reading all of it into a list (StreamingHttpResponse.__aiter__): a 500 MiB layer would be 500 MiB
of RAM. So under ASGI the bytes come from an asynchronous generator reading the file in a worker
thread; under WSGI (the test client) from a plain generator.
"""
import asyncio

from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse

CHUNK = 1024 * 1024


def _sync_chunks(handle, length: int):
    try:
        while length > 0:
            data = handle.read(min(CHUNK, length))
            if not data:
                return
            length -= len(data)
            yield data
    finally:
        handle.close()


async def _async_chunks(handle, length: int):
    try:
        while length > 0:
            data = await asyncio.to_thread(handle.read, min(CHUNK, length))
            if not data:
                return
            length -= len(data)
            yield data
    finally:
        handle.close()


def file_response(request, handle, *, start: int, length: int, status: int = 200,
                  content_type: str = "application/octet-stream") -> StreamingHttpResponse:
    handle.seek(start)
    chunks = _async_chunks if isinstance(request, ASGIRequest) else _sync_chunks
    response = StreamingHttpResponse(chunks(handle, length), status=status, content_type=content_type)
    response["Content-Length"] = str(length)
    return response


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> (start, end inclusive); None when it cannot
    be satisfied. Only one range: that is what registry clients resume downloads with."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            count = int(last)
            if count <= 0:
                return None
            return max(0, size - count), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start < 0 or start >= size or end < start:
        return None
    return start, min(end, size - 1)

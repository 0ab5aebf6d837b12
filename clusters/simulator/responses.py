"""Response helpers shared by the request handlers: JSON bodies, Status errors, object
encoding for the requested API version, Table negotiation, and list streaming.

A list is written as a header, the cached bytes of each item, and a footer, in chunks,
so a 100k-pod list never exists as one giant Python string.
"""
from __future__ import annotations

import base64
import json

from aiohttp import web

from . import tables
from .errors import ApiError, bad_request
from .registry import Kind
from .store import Stored, dumps

JSON = "application/json"
CHUNK = 1000  # items per write when streaming a list


def truthy(value: str | None) -> bool:
    """A boolean query parameter as Go's strconv.ParseBool reads it (the Python client sends "True")."""
    return value in ("1", "t", "T", "true", "True", "TRUE")


def json_response(body: bytes, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON, headers=headers)


def error_response(error: ApiError) -> web.Response:
    return json_response(dumps(error.status()), error.code, error.headers)


def encode(kind: Kind, stored: Stored) -> bytes:
    """The object's bytes as ``kind``'s version (CRDs may serve several versions of one object)."""
    if stored.obj.get("apiVersion") == kind.api_version:
        return stored.raw
    return dumps(dict(stored.obj, apiVersion=kind.api_version))


def wants_table(request: web.BaseRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def single_table(kind: Kind, stored: Stored, include: str) -> bytes:
    table = tables.table_head(kind, stored.obj["metadata"].get("resourceVersion", ""))
    table["rows"] = [tables.row(kind, stored.obj, include)]
    return dumps(table)


# -- pagination -----------------------------------------------------------------------

def encode_continue(rv: int, key: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_continue(token: str) -> tuple[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        return tuple(data["start"])  # type: ignore[return-value]
    except (ValueError, KeyError, TypeError):
        raise bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)") from None


async def write_list(request: web.BaseRequest, kind: Kind, items: list[Stored], rv: int, token: str,
                     remaining: int | None, table: bool, include: str) -> web.StreamResponse:
    meta: dict = {"resourceVersion": str(rv)}
    if token:
        meta["continue"] = token
        if remaining is not None:
            meta["remainingItemCount"] = remaining
    if table:
        head = tables.table_head(kind, str(rv), token)
        head["metadata"] = meta
        prefix = dumps(head)[:-1] + b',"rows":['

        def encode_item(s: Stored) -> bytes:
            return dumps(tables.row(kind, s.obj, include))
    else:
        prefix = dumps({"kind": kind.list_kind, "apiVersion": kind.api_version, "metadata": meta})[:-1] + b',"items":['

        def encode_item(s: Stored) -> bytes:
            return encode(kind, s)

    if len(items) <= CHUNK:
        return json_response(prefix + b",".join(encode_item(s) for s in items) + b"]}")
    response = web.StreamResponse(headers={"Content-Type": JSON})
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(prefix)
    for start in range(0, len(items), CHUNK):
        chunk = b",".join(encode_item(s) for s in items[start:start + CHUNK])
        await response.write(chunk if start == 0 else b"," + chunk)
    await response.write(b"]}")
    await response.write_eof()
    return response

"""The watch verb: a chunked stream of ``{"type": ..., "object": ...}`` lines.

resourceVersion semantics follow the real API server:
- unset or "0": ADDED for every current match, then live changes;
- N: every change after N from the bounded history, then live changes; if N is older
  than the history keeps, a single ERROR event carrying a 410 Expired Status;
- ``timeoutSeconds`` ends the stream; ``allowWatchBookmarks`` adds periodic BOOKMARKs;
- ``sendInitialEvents=true`` (watch-list) ends the initial ADDED burst with a bookmark
  annotated ``k8s.io/initial-events-end``.
History replay and registration happen without yielding to the event loop, so no
change can slip between them.
"""
from __future__ import annotations

import asyncio

from aiohttp import web

from . import tables
from .errors import ApiError, bad_request
from .registry import Kind
from .responses import JSON, encode, truthy
from .selectors import FieldSelector, LabelSelector
from .store import Store, Watcher, dumps

DEFAULT_TIMEOUT = 1800.0
BOOKMARK_EVERY = 30.0


async def serve_watch(request: web.BaseRequest, store: Store, kind: Kind, namespace: str | None,
                      labels: LabelSelector, fields: FieldSelector, params, table: bool, include: str,
                      initial: list) -> web.StreamResponse:
    rv_param = params.get("resourceVersion") or ""
    try:
        timeout = float(params.get("timeoutSeconds") or DEFAULT_TIMEOUT)
    except ValueError:
        raise bad_request("timeoutSeconds must be a number") from None
    bookmarks = truthy(params.get("allowWatchBookmarks"))
    send_initial = truthy(params.get("sendInitialEvents"))
    watcher = Watcher(kind.bucket, namespace if kind.namespaced else None, labels, fields)
    expired: ApiError | None = None
    if rv_param in ("", "0") or send_initial:
        for stored in initial:
            watcher.push("ADDED", stored)
    else:
        try:
            since = int(rv_param)
        except ValueError:
            raise bad_request(f'resourceVersion: Invalid value: "{rv_param}": must be an integer') from None
        try:
            for event in store.events_since(kind.bucket, since):
                watcher.offer(event.type, event.stored, event.old)
        except ApiError as exc:
            expired = exc
    if expired is None:
        store.add_watcher(watcher)
    response = web.StreamResponse(headers={"Content-Type": JSON})
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        if expired is not None:
            await response.write(b'{"type":"ERROR","object":' + dumps(expired.status()) + b"}\n")
            return response
        await _pump(response, store, kind, watcher, timeout, bookmarks, send_initial, table, include)
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the client went away; nothing to tell it
    finally:
        store.remove_watcher(watcher)
    try:
        await response.write_eof()
    except ConnectionResetError:
        pass
    return response


async def _pump(response, store: Store, kind: Kind, watcher: Watcher, timeout: float, bookmarks: bool,
                send_initial: bool, table: bool, include: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    first_table = [True]

    def line(type_: str, stored) -> bytes:
        if table:
            head = tables.table_head(kind, stored.obj["metadata"].get("resourceVersion", ""),
                                     with_columns=first_table[0])
            first_table[0] = False
            head["rows"] = [tables.row(kind, stored.obj, include)]
            body = dumps(head)
        else:
            body = encode(kind, stored)
        return b'{"type":"' + type_.encode() + b'","object":' + body + b"}\n"

    def bookmark(annotations: dict | None = None) -> bytes:
        meta: dict = {"resourceVersion": str(store.rv)}
        if annotations:
            meta["annotations"] = annotations
        return dumps({"type": "BOOKMARK", "object": {"kind": kind.kind, "apiVersion": kind.api_version,
                                                      "metadata": meta}}) + b"\n"

    if send_initial:
        # Everything already queued is the initial state; say where it ends.
        await _flush(response, watcher, line)
        if bookmarks:
            await response.write(bookmark({"k8s.io/initial-events-end": "true"}))
    next_bookmark = loop.time() + BOOKMARK_EVERY
    while not watcher.overflowed:
        await _flush(response, watcher, line)
        now = loop.time()
        if now >= deadline:
            return
        if bookmarks and now >= next_bookmark:
            await response.write(bookmark())
            next_bookmark = now + BOOKMARK_EVERY
        watcher.wake.clear()
        if watcher.queue:
            continue
        wait = min(deadline, next_bookmark if bookmarks else deadline) - now
        try:
            await asyncio.wait_for(watcher.wake.wait(), timeout=max(wait, 0.001))
        except TimeoutError:
            pass


async def _flush(response, watcher: Watcher, line) -> None:
    while watcher.queue:
        batch = []
        while watcher.queue and len(batch) < 500:
            type_, stored = watcher.queue.popleft()
            batch.append(line(type_, stored))
        await response.write(b"".join(batch))

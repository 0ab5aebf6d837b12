"""HTTP front of one simulated cluster: authentication, fault injection, URL routing and
the verbs (get, list, watch, create, update, patch, delete, deletecollection) plus the
status, scale and log subresources (logs are generated in ``logs``).

URL shapes, as on a real API server:
  /api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]
  /apis/{group}/{version}[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]
  /api/v1/watch/...  (legacy watch paths)
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from . import errors
from .apiserver import APPLY_PATCH, PATCH_TYPES
from .decoding import decode_yaml
from .errors import ApiError, bad_request, method_not_allowed
from .logs import log_interval, serve_log
from .registry import Kind
from .responses import (
    decode_continue,
    encode,
    encode_continue,
    error_response,
    json_response,
    single_table,
    truthy,
    wants_table,
    write_list,
)
from .selectors import parse_field_selector, parse_label_selector
from .store import dumps
from .watching import serve_watch

if TYPE_CHECKING:
    from .server import SimCluster

log = logging.getLogger("clusters.simulator")

PUBLIC_PATHS = {"/healthz", "/livez", "/readyz", "/version"}
_NOT_FOUND = ApiError(404, "NotFound", "the server could not find the requested resource", {})


class ClusterApi:
    """The aiohttp request handler of one cluster."""

    def __init__(self, cluster: SimCluster):
        self.cluster = cluster
        self.api = cluster.api
        self.store = cluster.store
        self.registry = cluster.registry
        self.discovery = cluster.discovery

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        cluster = self.cluster
        if cluster.faults.down:
            # Requests already in flight on a kept-alive connection when the cluster went down.
            request.transport and request.transport.close()
            return error_response(errors.service_unavailable())
        path = request.path
        if path not in PUBLIC_PATHS and not self._authorized(request):
            return error_response(errors.unauthorized())
        if path.startswith("/_sim/"):
            return await cluster.admin_request(request, path[len("/_sim/"):])
        faults = cluster.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        injected = faults.roll()
        if injected is not None:
            return error_response(injected)
        try:
            return await self._route(request, path)
        except ApiError as exc:
            return error_response(exc)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a simulator bug must look like a server error, not a hang
            log.exception("request %s %s failed", request.method, request.path_qs)
            return error_response(errors.internal_error(str(exc)))

    def _authorized(self, request: web.BaseRequest) -> bool:
        header = request.headers.get("Authorization", "")
        expected = f"Bearer {self.cluster.token}"
        return hmac.compare_digest(header.encode(), expected.encode())

    # -- routing ------------------------------------------------------------------------

    async def _route(self, request: web.BaseRequest, path: str) -> web.StreamResponse:
        parts = [p for p in path.split("/") if p]
        if request.method != "GET" and (not parts or parts[0] not in ("api", "apis")):
            raise method_not_allowed()
        if not parts:
            return json_response(dumps({"paths": ["/api", "/api/v1", "/apis", "/version", "/healthz", "/openapi/v3"]}))
        head = parts[0]
        if head in ("healthz", "livez", "readyz"):
            return web.Response(text="ok")
        if head == "version":
            return json_response(self.discovery.version())
        if head == "openapi":
            return self._openapi(parts)
        if head == "api":
            if len(parts) == 1:
                return json_response(self.discovery.core_versions())
            group, version, rest = "", parts[1], parts[2:]
        elif head == "apis":
            if len(parts) == 1:
                return json_response(self.discovery.groups())
            if len(parts) == 2:
                return self._found(self.discovery.group(parts[1]))
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise _NOT_FOUND
        if not rest:
            if request.method != "GET":
                raise method_not_allowed()
            return self._found(self.discovery.resources(group, version))
        watch_path = rest[0] == "watch"
        if watch_path:
            rest = rest[1:]
        namespace = None
        if (len(rest) >= 3 and rest[0] == "namespaces"
                and not (group == "" and len(rest) == 3 and rest[2] in ("status", "finalize"))):
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise _NOT_FOUND
        kind = self.registry.lookup(group, version, rest[0])
        if kind is None or (namespace is not None and not kind.namespaced):
            raise _NOT_FOUND
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if kind.namespaced and name is not None and namespace is None:
            raise _NOT_FOUND
        return await self._dispatch(request, kind, namespace, name, sub, watch_path)

    def _found(self, body: bytes | None) -> web.Response:
        if body is None:
            raise _NOT_FOUND
        return json_response(body)

    def _openapi(self, parts: list[str]) -> web.Response:
        if parts[1:2] == ["v3"]:
            if len(parts) == 2:
                return json_response(self.discovery.openapi_root())
            return self._found(self.discovery.openapi_group_version("/".join(parts[2:])))
        raise _NOT_FOUND

    # -- verbs --------------------------------------------------------------------------

    async def _dispatch(self, request, kind: Kind, namespace, name, sub, watch_path) -> web.StreamResponse:
        method = request.method
        params = request.query
        ns = namespace or ""
        dry_run = params.get("dryRun") == "All"
        if sub is not None and not self._serves_subresource(kind, sub):
            raise _NOT_FOUND
        if method == "GET":
            if name is None:
                return await self._list_or_watch(request, kind, namespace, params, watch_path)
            if watch_path or truthy(params.get("watch")):
                fields = f"metadata.name={name}"
                return await self._list_or_watch(request, kind, namespace, params, True, fields)
            stored = self.api.get(kind, ns, name)
            if sub == "scale":
                return json_response(dumps(self.api.scale_of(kind, stored)))
            if sub == "log":
                return await serve_log(request, self.store, stored, params, log_interval(self.cluster.ready_delay))
            if wants_table(request):
                return json_response(single_table(kind, stored, params.get("includeObject", "Metadata")))
            return json_response(encode(kind, stored))
        if method == "POST":
            if name is not None or (kind.namespaced and namespace is None):
                raise method_not_allowed()
            stored = self.api.create(kind, ns, await self._body(request), dry_run=dry_run)
            return json_response(encode(kind, stored), 201)
        if method == "PUT":
            if name is None or sub == "log":
                raise method_not_allowed()
            body = await self._body(request)
            if sub == "scale":
                stored = self.api.set_scale(kind, ns, name, body)
                return json_response(dumps(self.api.scale_of(kind, stored)))
            if sub == "finalize":
                sub = None
            stored = self.api.update(kind, ns, name, body, subresource=sub, dry_run=dry_run)
            return json_response(encode(kind, stored))
        if method == "PATCH":
            if name is None or sub == "log":
                raise method_not_allowed()
            return await self._patch(request, kind, ns, name, sub, dry_run)
        if method == "DELETE":
            if sub is not None:
                raise method_not_allowed()
            options = await self._delete_options(request)
            if name is None:
                return self._delete_collection(kind, namespace, params, options, dry_run)
            stored = self.api.delete(kind, ns, name, propagation=options.get("propagationPolicy"),
                                     preconditions=options.get("preconditions"), dry_run=dry_run)
            return json_response(encode(kind, stored))
        raise method_not_allowed()

    @staticmethod
    def _serves_subresource(kind: Kind, sub: str) -> bool:
        return ((sub == "status" and kind.status_subresource) or (sub == "scale" and kind.has_scale)
                or sub in kind.extra_subresources)

    async def _list_or_watch(self, request, kind, namespace, params, watch_path, fields_text=None):
        labels = parse_label_selector(params.get("labelSelector"))
        field_text = params.get("fieldSelector")
        if fields_text:
            field_text = f"{field_text},{fields_text}" if field_text else fields_text
        fields = parse_field_selector(field_text, kind.bucket)
        table = wants_table(request)
        include = params.get("includeObject", "Metadata")
        scope = namespace if kind.namespaced else None
        if watch_path or truthy(params.get("watch")):
            items = self.store.select(kind.bucket, scope, labels, fields)
            return await serve_watch(request, self.store, kind, namespace, labels, fields, params, table, include,
                                     items)
        try:
            limit = int(params.get("limit") or 0) or None
        except ValueError:
            raise bad_request("limit must be an integer") from None
        after = decode_continue(params["continue"]) if params.get("continue") else None
        page, more, remaining = self.store.page(kind.bucket, scope, labels, fields, after, limit)
        token = encode_continue(self.store.rv, page[-1].key) if more and page else ""
        return await write_list(request, kind, page, self.store.rv, token, remaining, table, include)

    async def _patch(self, request, kind, ns, name, sub, dry_run) -> web.Response:
        content_type = request.content_type
        if content_type not in PATCH_TYPES:
            raise errors.unsupported_media_type(content_type, PATCH_TYPES)
        body = await request.read()
        params = request.query
        force = truthy(params.get("force"))
        if force and content_type != APPLY_PATCH:
            raise bad_request("force may not be specified for non-apply patch")
        if sub == "scale":
            stored = self.api.patch_scale(kind, ns, name, content_type, body)
            return json_response(dumps(self.api.scale_of(kind, stored)))
        existed = self.store.get(kind.bucket, ns if kind.namespaced else "", name) is not None
        stored = self.api.patch(kind, ns, name, content_type, body, subresource=sub,
                                field_manager=params.get("fieldManager"), force=force, dry_run=dry_run)
        return json_response(encode(kind, stored), 200 if existed else 201)

    async def _body(self, request) -> dict:
        if request.content_type not in ("application/json", "application/yaml", ""):
            # Protobuf/CBOR bodies (kubectl's imperative "create namespace", "create secret"...)
            # need the Go type schemas; say so the way a server without that codec would.
            raise errors.unsupported_media_type(request.content_type, ("application/json", "application/yaml"))
        raw = await request.read()
        try:
            if "yaml" in request.content_type:
                body = decode_yaml(raw)
            else:
                body = json.loads(raw or b"null")
        except (ValueError, RecursionError) as exc:  # DecodeError is a ValueError
            raise bad_request(f"the body of the request could not be decoded: {exc}") from None
        if not isinstance(body, dict):
            raise bad_request("the body of the request must be a JSON object")
        return body

    async def _delete_options(self, request) -> dict:
        options = {}
        raw = await request.read()
        if raw.strip():
            try:
                options = json.loads(raw)
            except ValueError:
                raise bad_request("the body of the request could not be decoded as DeleteOptions") from None
            if not isinstance(options, dict):
                options = {}
        params = request.query
        if params.get("propagationPolicy"):
            options["propagationPolicy"] = params["propagationPolicy"]
        if options.get("orphanDependents") is True or truthy(params.get("orphanDependents")):
            options.setdefault("propagationPolicy", "Orphan")
        policy = options.get("propagationPolicy")
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise bad_request(f'propagationPolicy: Unsupported value: "{policy}"')
        return options

    def _delete_collection(self, kind, namespace, params, options, dry_run) -> web.Response:
        labels = parse_label_selector(params.get("labelSelector"))
        fields = parse_field_selector(params.get("fieldSelector"), kind.bucket)
        for stored in self.api.list(kind, namespace, labels, fields):
            meta = stored.obj["metadata"]
            self.api.delete(kind, meta.get("namespace", ""), meta["name"],
                            propagation=options.get("propagationPolicy"), dry_run=dry_run)
        return json_response(dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}))

"""The traffic side's HTTP server (one for all clusters): service registry, load
balancers, DNS, request generators, a Prometheus query API and metric faults.
The routes are listed in ``__init__.py``; JSON in and out, errors ``{"error": ...}`` with
a 4xx status (the Prometheus API answers in Prometheus's own error format).
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging

from aiohttp import web

from .dns import ZONE, DnsZone
from .faults import FaultError, MetricFaults, parse_fault
from .generator import GeneratorError, Generators, parse_spec
from .loadbalancer import LoadBalancers
from .prometheus import BadData, query
from .registry import ServiceRegistry
from .state import World
from .watcher import ClusterWatcher, Target

log = logging.getLogger("clusters.simulator.traffic")
MAX_BODY = 64 * 1024
SYNC_WAIT = 15.0


class BadRequest(Exception):
    pass


def _json(data, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, content_type="application/json")


def _error(message: str, status: int) -> web.Response:
    return _json({"error": message}, status)


def _reject_constant(name: str):
    raise BadRequest(f"{name} is not a number JSON allows")


async def _body(request: web.Request) -> dict:
    try:
        data = json.loads(await request.read() or b"{}", parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    return data


@web.middleware
async def _errors(request: web.Request, handler):
    try:
        return await handler(request)
    except BadRequest as exc:
        return _error(str(exc), 400)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.reason, exc.status)
    except Exception:  # a bug here must still answer JSON, and say where in the log
        log.exception("traffic simulator: %s %s failed", request.method, request.path)
        return _error("internal error in the traffic simulator", 500)


class TrafficServer:
    def __init__(self, targets: list[Target], *, host: str = "127.0.0.1", port: int = 0, lag: float = 2.0,
                 heartbeat: float = 3.0):
        self.targets = targets
        self.host = host
        self.port = port
        self.world = World()
        self.registry = ServiceRegistry(self.world, heartbeat)
        self.balancers = LoadBalancers(self.world, lag)
        self.dns = DnsZone(self.balancers)
        self.faults = MetricFaults()
        self.generators = Generators(self.route, self.world, self.faults)
        self.watchers = [ClusterWatcher(target, self.world) for target in targets]
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        for watcher in self.watchers:
            await watcher.start()
        app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY)
        self._routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
        await self.wait_synced(SYNC_WAIT)

    async def wait_synced(self, timeout: float) -> bool:
        """Until every cluster's pods, services and endpoints were listed once (callers then see them all)."""
        wanted = {(t.name, kind) for t in self.targets for kind in ("pod", "service", "endpoints")}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not wanted <= self.world.synced:
            if loop.time() > deadline:
                log.warning("traffic simulator: not every cluster listed within %.0fs", timeout)
                return False
            await asyncio.sleep(0.02)
        return True

    async def stop(self) -> None:
        await self.generators.stop()
        for watcher in self.watchers:
            await watcher.stop()
        if self._runner is not None:
            await self._runner.cleanup()

    def route(self, kind: str, ref: str, at: float) -> list[tuple[tuple, str, int]]:
        """Where a request to ``kind:ref`` may go now: [(pod key, uid, weight)]."""
        if kind == "lb":
            return [(b.pod_key, b.uid, b.weight) for b in self.balancers.routable(ref, at)]
        if kind == "registry":
            return [(i.pod_key, i.uid, 1) for i in self.registry.routable(ref, at)]
        namespace = ref.partition(".")[2]
        return [((cluster, namespace, pod), uid, 1) for _, cluster, pod, uid in self.dns.targets(ref, at)]

    def _routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/healthz", self.healthz)
        r.add_get("/traffic/v1/settings", self.get_settings)
        r.add_put("/traffic/v1/settings", self.put_settings)
        r.add_get("/traffic/v1/pods", self.list_pods)
        r.add_get("/registry/v1/services", self.list_services)
        r.add_get("/registry/v1/services/{service}/instances", self.list_instances)
        r.add_put("/registry/v1/services/{service}/instances/{cluster}/{ns}/{pod}", self.put_instance)
        r.add_get("/lb/v1/loadbalancers", self.list_balancers)
        r.add_get("/lb/v1/loadbalancers/{lb}", self.get_balancer)
        r.add_get("/lb/v1/loadbalancers/{lb}/backends", self.list_backends)
        r.add_put("/lb/v1/loadbalancers/{lb}/backends/{cluster}/{ns}/{pod}", self.put_backend)
        r.add_get("/dns/v1/zones", self.list_zones)
        r.add_get("/dns/v1/zones/{zone}/records", self.list_records)
        r.add_get("/dns/v1/zones/{zone}/records/{name}", self.get_record)
        r.add_put("/dns/v1/zones/{zone}/records/{name}/{ip}", self.put_record_ip)
        r.add_delete("/dns/v1/zones/{zone}/records/{name}/{ip}", self.delete_record_ip)
        r.add_get("/traffic/v1/generators", self.list_generators)
        r.add_post("/traffic/v1/generators", self.create_generator)
        r.add_get("/traffic/v1/generators/{name}", self.get_generator)
        r.add_delete("/traffic/v1/generators/{name}", self.delete_generator)
        r.add_post("/traffic/v1/generators/{name}/reset", self.reset_generator)
        r.add_get("/prometheus/api/v1/query", self.prometheus_query)
        r.add_post("/prometheus/api/v1/query", self.prometheus_query)
        r.add_get("/faults/v1/metrics", self.list_faults)
        r.add_post("/faults/v1/metrics", self.add_fault)
        r.add_delete("/faults/v1/metrics", self.clear_faults)

    # -- settings and truth --------------------------------------------------------------

    async def healthz(self, request):
        return web.Response(text="ok")

    def _settings(self) -> dict:
        return {"lb_lag_seconds": self.balancers.lag, "registry_heartbeat_seconds": self.registry.heartbeat}

    async def get_settings(self, request):
        return _json(self._settings())

    async def put_settings(self, request):
        data = await _body(request)
        unknown = set(data) - set(self._settings())
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        for name, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 300:
                raise BadRequest(f"{name} must be a number of seconds from 0 to 300")
        if "lb_lag_seconds" in data:
            self.balancers.lag = float(data["lb_lag_seconds"])
        if "registry_heartbeat_seconds" in data:
            self.registry.heartbeat = float(data["registry_heartbeat_seconds"])
        return _json(self._settings())

    async def list_pods(self, request):
        cluster, namespace = request.query.get("cluster"), request.query.get("namespace")
        pods = [p for p in self.world.pods.values()
                if (not cluster or p.cluster == cluster) and (not namespace or p.namespace == namespace)]
        return _json({"pods": [{"id": p.id, "cluster": p.cluster, "namespace": p.namespace, "pod": p.name, "ip": p.ip,
                                "ready": p.ready, "serving": p.serving, "reason": p.not_serving_reason(),
                                "restarts": p.restarts, "images": p.images}
                               for p in sorted(pods, key=lambda p: p.key)]})

    # -- registry --------------------------------------------------------------------------

    async def list_services(self, request):
        return _json({"services": self.registry.services()})

    async def list_instances(self, request):
        service = request.match_info["service"]
        instances = self.registry.instances_of(service)
        if not instances and service not in self.registry.services():
            return _error(f"no service {service!r} in the registry", 404)
        return _json({"service": service, "instances": [self.registry.describe(i) for i in instances]})

    async def put_instance(self, request):
        m = request.match_info
        data = await _body(request)
        if set(data) != {"enabled"} or not isinstance(data["enabled"], bool):
            raise BadRequest('expected {"enabled": true|false}')
        instance = self.registry.find(m["service"], f"{m['cluster']}/{m['ns']}/{m['pod']}")
        if instance is None:
            return _error("no such instance of that service", 404)
        instance.enabled = data["enabled"]
        return _json(self.registry.describe(instance))

    # -- load balancers --------------------------------------------------------------------

    async def list_balancers(self, request):
        return _json({"loadbalancers": [self.balancers.summary(b) for b in self.balancers.list()]})

    def _balancer(self, request):
        balancer = self.balancers.get(request.match_info["lb"])
        if balancer is None:
            raise web.HTTPNotFound(reason=f"no load balancer {request.match_info['lb']!r}")
        return balancer

    async def get_balancer(self, request):
        return _json(self.balancers.summary(self._balancer(request)))

    async def list_backends(self, request):
        balancer = self._balancer(request)
        return _json({"loadbalancer": balancer.id,
                      "backends": [self.balancers.describe(b, h) for b, h in self.balancers.backends(balancer)]})

    async def put_backend(self, request):
        balancer = self._balancer(request)
        m = request.match_info
        data = await _body(request)
        weight = data.get("weight")
        if set(data) != {"weight"} or isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise BadRequest('expected {"weight": <integer 0..100>}')
        backend = balancer.backends.get(f"{m['cluster']}/{m['ns']}/{m['pod']}")
        if backend is None:
            return _error("no such backend in that load balancer", 404)
        backend.weight = weight
        healthy = dict((b.id, h) for b, h in self.balancers.backends(balancer)).get(backend.id, False)
        return _json(self.balancers.describe(backend, healthy))

    # -- DNS -------------------------------------------------------------------------------

    def _zone(self, request) -> None:
        if request.match_info["zone"] != ZONE:
            raise web.HTTPNotFound(reason=f"no zone {request.match_info['zone']!r} (the zone is {ZONE})")

    def _record_name(self, request) -> str:
        self._zone(request)
        name = request.match_info["name"]
        if not self.dns.exists(name):
            raise web.HTTPNotFound(reason=f"no record {name!r} in {ZONE}")
        return name

    @staticmethod
    def _ip(request) -> tuple[str, str]:
        try:
            ip = str(ipaddress.ip_address(request.match_info["ip"]))
        except ValueError:
            raise BadRequest("not an IP address") from None
        return ip, request.query.get("cluster", "")

    async def list_zones(self, request):
        return _json({"zones": [ZONE]})

    async def list_records(self, request):
        self._zone(request)
        return _json({"zone": ZONE, "records": [self.dns.record(n) for n in self.dns.names()]})

    async def get_record(self, request):
        return _json(self.dns.record(self._record_name(request)))

    async def put_record_ip(self, request):
        name = self._record_name(request)
        if not self.dns.restore(name, *self._ip(request)):
            return _error("that IP is not part of this record", 404)
        return _json(self.dns.record(name))

    async def delete_record_ip(self, request):
        name = self._record_name(request)
        if not self.dns.remove(name, *self._ip(request)):
            return _error("that IP is not part of this record", 404)
        return _json(self.dns.record(name))

    # -- request generators ----------------------------------------------------------------

    async def list_generators(self, request):
        return _json({"generators": [g.to_dict() for _, g in sorted(self.generators.generators.items())]})

    async def create_generator(self, request):
        try:
            name, kind, ref, rate = parse_spec(await _body(request))
            generator = self.generators.create(name, kind, ref, rate)
        except GeneratorError as exc:
            raise BadRequest(str(exc)) from None
        except KeyError:
            return _error("a generator of that name exists; delete it first", 409)
        return _json(generator.to_dict(), 201)

    def _generator(self, request):
        generator = self.generators.generators.get(request.match_info["name"])
        if generator is None:
            raise web.HTTPNotFound(reason="no generator of that name")
        return generator

    async def get_generator(self, request):
        return _json(self._generator(request).to_dict())

    async def delete_generator(self, request):
        generator = self._generator(request)
        await self.generators.delete(generator.name)
        return _json(generator.to_dict())

    async def reset_generator(self, request):
        generator = self._generator(request)
        generator.reset()
        return _json(generator.to_dict())

    # -- Prometheus and faults -------------------------------------------------------------

    async def prometheus_query(self, request):
        params = dict(request.query)
        if request.method == "POST":
            params.update(await request.post())  # form fields, as Prometheus reads them
        try:
            data = query(self.world, self.faults, params.get("query"), params.get("time"))
        except BadData as exc:
            return _json({"status": "error", "errorType": "bad_data", "error": str(exc)}, 400)
        return _json({"status": "success", "data": data})

    async def list_faults(self, request):
        return _json({"faults": self.faults.to_list()})

    async def add_fault(self, request):
        try:
            self.faults.add(parse_fault(await _body(request)))
        except FaultError as exc:
            raise BadRequest(str(exc)) from None
        return _json({"faults": self.faults.to_list()})

    async def clear_faults(self, request):
        self.faults.clear()
        return _json({"faults": []})

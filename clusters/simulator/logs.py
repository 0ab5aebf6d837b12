"""Pod logs: generated, plausible and the same for one pod every time it is asked.

Nothing is stored. A container run (one start of one container) has a start time, an
end time when it exited, and a seed (pod uid, container, restart count); its line k is a
pure function of those, so serving a log costs only the lines asked for and a long demo
uses no memory for logs. A run prints a start-up banner, then one request line about
every ``interval`` seconds (web servers in the access-log format, other images as an
application log); an image that crash-loops prints a stack trace and exits. Only the
last ``MAX_LINES`` lines of a run are kept, as the kubelet's log rotation would.

``GET .../pods/<name>/log`` honours container, previous, follow, tailLines,
sinceSeconds, sinceTime, timestamps and limitBytes like the kubelet does.
"""
from __future__ import annotations

import asyncio
import calendar
import hashlib
import time
from dataclasses import dataclass

from aiohttp import web

from .controllers.podutil import image_behaviour
from .errors import ApiError, bad_request, invalid
from .responses import truthy
from .store import Store, Stored

MAX_LINES = 10_000
_WEB_SERVERS = ("nginx", "httpd", "apache", "caddy", "envoy", "haproxy", "traefik")
_PATHS = ("/", "/index.html", "/api/orders", "/api/orders/{n}", "/api/items/{n}", "/api/cart", "/static/app.js",
          "/static/app.css", "/healthz", "/api/users/{n}", "/search?q=item{n}", "/api/checkout")
_METHODS = ("GET", "GET", "GET", "GET", "POST", "GET", "PUT", "GET", "DELETE", "GET")
_AGENTS = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Gecko/20100101 Firefox/128.0", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "curl/8.5.0",
           "python-requests/2.32.3", "Go-http-client/1.1")


def log_interval(ready_delay: float) -> float:
    """Seconds between request lines: one a second normally, faster when a test speeds pods up."""
    return min(max(ready_delay, 0.05), 1.0)


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        whole = calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
    fraction = text[19:].rstrip("Z").split("+")[0]
    return whole + (float(fraction) if fraction.startswith(".") and fraction[1:].isdigit() else 0.0)


def rfc3339_nano(ts: float) -> str:
    """Go's time.RFC3339Nano, as the kubelet prefixes lines with ``timestamps=true``."""
    micros = round(ts * 1_000_000)  # a float holds today's time exactly only to the microsecond
    seconds, fraction = divmod(micros, 1_000_000)
    digits = f".{fraction * 1000:09d}".rstrip("0").rstrip(".")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + digits + "Z"


def _numbers(seed: str, k: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{k}".encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True)
class Run:
    """One start of one container."""

    seed: str
    image: str
    start: float
    end: float | None  # when it exited; None while it runs
    interval: float
    pod_ip: str
    crashed: bool = False

    @property
    def app(self) -> str:
        return self.image.rsplit("/", 1)[-1].split("@")[0].split(":")[0] or "app"

    @property
    def version(self) -> str:
        last = self.image.rsplit("/", 1)[-1].split("@")[0]
        return last.split(":", 1)[1] if ":" in last else "latest"

    @property
    def web_server(self) -> bool:
        return any(word in self.app for word in _WEB_SERVERS)

    def banner(self) -> list[str]:
        if self.crashed:
            return [f"{self._stamp(0)} INFO  starting {self.app} version={self.version} pid=1",
                    f"{self._stamp(0.04)} INFO  connecting to database host=db port=5432",
                    "Traceback (most recent call last):",
                    '  File "/app/main.py", line 42, in <module>',
                    "    main()",
                    '  File "/app/main.py", line 37, in main',
                    "    db.connect(settings.DATABASE_URL)",
                    '  File "/app/db.py", line 18, in connect',
                    '    raise ConnectionError(f"could not connect to {url}: connection refused")',
                    "ConnectionError: could not connect to postgres://db:5432/app: connection refused"]
        if self.web_server:
            day = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(self.start))
            return ["/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
                    "/docker-entrypoint.sh: Configuration complete; ready for start up",
                    f'{day} [notice] 1#1: using the "epoll" event method',
                    f"{day} [notice] 1#1: {self.app}/{self.version}",
                    f"{day} [notice] 1#1: start worker processes",
                    f"{day} [notice] 1#1: start worker process 29"]
        return [f"{self._stamp(0)} INFO  starting {self.app} version={self.version} pid=1",
                f"{self._stamp(0.05)} INFO  loaded configuration from /etc/{self.app}/config.yaml",
                f"{self._stamp(0.12)} INFO  connected to database host=db port=5432",
                f"{self._stamp(0.2)} INFO  listening on :8080"]

    def _stamp(self, offset: float) -> str:
        ts = self.start + offset
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"

    def time_of(self, k: int) -> float:
        banner = len(self.banner())
        if k < banner:
            return self.start + k * 0.01
        step = k - banner + 1
        return self.start + 0.3 + step * self.interval + (_numbers(self.seed, k) % 1000) / 1000 * self.interval * 0.5

    def count_at(self, now: float) -> int:
        """How many lines the run has printed by ``now``."""
        if self.end is not None:
            now = min(now, self.end)
        banner = len(self.banner())
        if self.crashed:
            return banner if now >= self.start else 0
        if now < self.start:
            return 0
        n = banner + max(int((now - self.start - 0.3) / self.interval), 0) + 1
        while n > banner and self.time_of(n - 1) > now:
            n -= 1
        return n

    def text_of(self, k: int) -> str:
        banner = self.banner()
        if k < len(banner):
            return banner[k]
        r = _numbers(self.seed, k)
        ts = self.time_of(k)
        path = _PATHS[r % len(_PATHS)].format(n=r >> 8 & 1023)
        method = _METHODS[r >> 20 & 7] if path.startswith("/api") else "GET"
        status = 200
        if path == "/healthz":
            status = 503 if image_behaviour(self.image) == "unready" else 200
        elif r >> 24 & 63 == 0:
            status = 500
        elif r >> 30 & 31 == 0:
            status = 404
        client = f"10.244.{r >> 36 & 3}.{(r >> 38 & 253) + 2}"
        size = 180 + (r >> 40 & 4095)
        if self.web_server:
            day = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
            agent = "kube-probe/1.32" if path == "/healthz" else _AGENTS[r >> 52 & 3]
            return f'{client} - - [{day}] "{method} {path} HTTP/1.1" {status} {size} "-" "{agent}" "-"'
        level = "ERROR" if status >= 500 else "INFO "
        millis = 1 + (r >> 44 & 127) + (800 if status >= 500 else 0)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"
        line = f"{stamp} {level} request method={method} path={path} status={status} duration={millis}ms client={client}"
        if status == 500:
            line += ' error="upstream timed out"'
        return line


# -- choosing the run ---------------------------------------------------------------------


def container_names(pod: dict) -> list[str]:
    return [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or ()]


def pick_container(pod: dict, asked: str | None) -> str:
    name = pod["metadata"]["name"]
    names = container_names(pod)
    if not asked:
        if len(names) == 1:
            return names[0]
        raise bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]")
    if asked not in names:
        raise bad_request(f"container {asked} is not valid for pod {name}, choose one of: [{' '.join(names)}]")
    return asked


def run_of(pod: dict, container: str, previous: bool, interval: float) -> Run:
    meta, status = pod["metadata"], pod.get("status") or {}
    name = meta["name"]
    if not (pod.get("spec") or {}).get("nodeName"):
        raise bad_request(f"pod {name} does not have a host assigned")
    cs = next((s for s in status.get("containerStatuses") or () if s.get("name") == container), None)
    if cs is None:
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
    image = cs.get("image", "")
    restarts = cs.get("restartCount", 0)
    state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated")
    crashing = image_behaviour(image) == "crashloop"

    def ended(attempt: int) -> Run:
        start = parse_time(last.get("startedAt")) or 0.0
        end = parse_time(last.get("finishedAt")) or start
        return Run(f"{meta.get('uid')}/{container}/{attempt}", image, start,
                   max(end, start + 0.5), interval, status.get("podIP", ""), crashed=crashing)

    if previous:
        if not last or restarts == 0:
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return ended(restarts - 1)
    if "running" in state:
        start = parse_time(state["running"].get("startedAt")) or time.time()
        return Run(f"{meta.get('uid')}/{container}/{restarts}", image, start, None, interval,
                   status.get("podIP", ""))
    if last and crashing:
        return ended(restarts)  # in back-off: the log of the run that just crashed
    waiting = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
    if waiting in ("ErrImagePull", "ImagePullBackOff"):
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: '
                          "trying and failing to pull image")
    raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {waiting}')


# -- options and serving ------------------------------------------------------------------


@dataclass
class LogOptions:
    container: str | None
    previous: bool
    follow: bool
    timestamps: bool
    tail: int | None
    since: float | None  # absolute time
    limit_bytes: int | None

    @classmethod
    def parse(cls, params, name: str) -> LogOptions:
        def number(field: str, minimum: int) -> int | None:
            raw = params.get(field)
            if raw in (None, ""):
                return None
            try:
                value = int(raw)
            except ValueError:
                raise bad_request(f"{field}: must be an integer") from None
            if value < minimum:
                raise invalid("PodLogOptions", "", name, [(field, f"Invalid value: {value}: must be greater than "
                                                                  f"{'or equal to ' if minimum == 0 else ''}"
                                                                  f"{0 if minimum == 0 else minimum - 1}")])
            return value

        since_seconds = number("sinceSeconds", 1)
        since_time = params.get("sinceTime")
        if since_seconds is not None and since_time:
            raise invalid("PodLogOptions", "", name, [("sinceSeconds", "Forbidden: at most one of sinceTime or "
                                                                       "sinceSeconds may be specified")])
        since = time.time() - since_seconds if since_seconds is not None else None
        if since_time:
            since = parse_time(since_time)
            if since is None:
                raise bad_request(f'sinceTime: Invalid value: "{since_time}": must be an RFC3339 time')
        return cls(container=params.get("container"), previous=truthy(params.get("previous")),
                   follow=truthy(params.get("follow")), timestamps=truthy(params.get("timestamps")),
                   tail=number("tailLines", 0), since=since, limit_bytes=number("limitBytes", 1))


def _first_line(run: Run, count: int, options: LogOptions) -> int:
    first = max(count - MAX_LINES, 0)
    if options.since is not None:
        low, high = first, count
        while low < high:  # line times only grow: bisect for the first line at or after "since"
            mid = (low + high) // 2
            if run.time_of(mid) < options.since:
                low = mid + 1
            else:
                high = mid
        first = low
    if options.tail is not None:
        first = max(first, count - options.tail)
    return first


def _render(run: Run, k: int, timestamps: bool) -> bytes:
    text = run.text_of(k)
    if timestamps:
        text = f"{rfc3339_nano(run.time_of(k))} {text}"
    return (text + "\n").encode()


async def serve_log(request: web.BaseRequest, store: Store, stored: Stored, params, interval: float):
    pod = stored.obj
    name = pod["metadata"]["name"]
    options = LogOptions.parse(params, name)
    container = pick_container(pod, options.container)
    run = run_of(pod, container, options.previous, interval)
    count = run.count_at(time.time())
    lines = [_render(run, k, options.timestamps) for k in range(_first_line(run, count, options), count)]
    body = b"".join(lines)
    if options.limit_bytes is not None:
        body = body[:options.limit_bytes]
    if not options.follow or run.end is not None or options.previous:
        return web.Response(body=body, content_type="text/plain")
    return await _follow(request, store, pod, container, run, count, body, options)


async def _follow(request, store: Store, pod: dict, container: str, run: Run, count: int, body: bytes,
                  options: LogOptions) -> web.StreamResponse:
    """Stream new lines as the run prints them, until the pod or this run of the container ends."""
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    budget = options.limit_bytes
    uid = pod["metadata"]["uid"]
    try:
        await response.prepare(request)
        if body:
            await response.write(body)
        if budget is not None:
            budget -= len(body)
        while budget is None or budget > 0:
            wait = run.time_of(count) - time.time()
            await asyncio.sleep(min(max(wait, 0.0), 1.0))
            current = store.by_uid(uid)
            if current is None or current.obj["metadata"].get("deletionTimestamp") or not _same_run(
                    current.obj, container, run):
                break
            now = time.time()
            chunk = b""
            while run.time_of(count) <= now:
                chunk += _render(run, count, options.timestamps)
                count += 1
            if chunk:
                if budget is not None:
                    chunk = chunk[:budget]
                    budget -= len(chunk)
                await response.write(chunk)
        await response.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the client went away (kubectl logs -f interrupted)
    return response


def _same_run(pod: dict, container: str, run: Run) -> bool:
    try:
        current = run_of(pod, container, False, run.interval)
    except ApiError:  # the container is no longer running
        return False
    return current.seed == run.seed and current.end is None

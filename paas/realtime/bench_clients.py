"""The realtime benchmark's watchers: many WebSocket clients in one asyncio process.

A child process of paas.realtime.bench, with no Django in it (it is what browsers
are to the server). Commands arrive as JSON lines on stdin, answers leave as JSON
lines on stdout. Each watcher behaves as the browser does per LIVE-PROTOCOL: it
keeps the last seq per stream, and when the server speaks the numbered protocol
(`hello` carries `streams`) it resumes after a reconnect and on a gap in `prev`.
Against a server without it, an event that never arrives is simply lost.

Latency of an event = receive time - its `sent_at` (the server's, when present),
else - `bench_sent_at` (the emitter's, taken just before its commit).

A watcher whose spec names a stream to `subscribe` (a release page: "release.<id>") sends
`subscribe` after each hello, with the last seq it has of that stream after a reconnect, and
counts as connected once the server answers `subscribed` (releases/bench.py).
"""
import asyncio
import json
import random
import sys
import time

import aiohttp


class Watcher:
    def __init__(self, spec: dict):
        self.id = spec["id"]
        self.url = spec["url"]
        self.headers = {"Origin": spec["origin"], "Cookie": spec["cookie"]}
        self.subscribe = spec.get("subscribe")  # a stream watched on request, e.g. "release.7"
        self.ready = asyncio.Event()
        self.ws = None
        self.reader = None
        self.hello = asyncio.Event()
        self.last: dict[str, int] = {}  # stream -> last seq this watcher has
        self.resuming: set[str] = set()  # streams with a resume in flight
        self.got: dict[str, dict[int, float]] = {}  # run -> bench_n -> latency (s)
        self.done_at: dict[str, float] = {}  # run -> when it had every event of it
        self.via_resume = 0
        self.resets = 0
        self.numbered = False  # the server's hello names streams and heads

    @property
    def open(self) -> bool:
        return self.ws is not None and not self.ws.closed


class Clients:
    def __init__(self):
        self.session: aiohttp.ClientSession | None = None
        self.watchers: list[Watcher] = []
        self.expected: dict[str, int] = {}  # run -> events a watcher should end with
        self.last_arrival = 0.0  # when the latest benchmark event arrived, at any watcher

    async def start(self):
        # One session for all: no cookie jar (each watcher sends its own session cookie).
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                             cookie_jar=aiohttp.DummyCookieJar())

    # --- one connection ---------------------------------------------------------
    async def _open(self, w: Watcher, timeout: float) -> str | None:
        """Connect and wait for hello; None when connected, else why not."""
        w.hello = asyncio.Event()
        w.ready = asyncio.Event()
        try:
            ws = await asyncio.wait_for(
                self.session.ws_connect(w.url, headers=w.headers, autoping=True, max_msg_size=0), timeout)
        except TimeoutError:
            return "handshake timeout"
        except aiohttp.WSServerHandshakeError as exc:
            return f"refused {exc.status}"
        except (aiohttp.ClientError, OSError) as exc:
            return exc.__class__.__name__
        w.ws = ws
        w.reader = asyncio.create_task(self._read(w, ws))
        try:
            await asyncio.wait_for(w.hello.wait(), timeout)
        except TimeoutError:
            await self._close(w)
            return "no hello"
        if not w.open:
            return f"closed {ws.close_code}"
        if w.subscribe:
            try:
                await asyncio.wait_for(w.ready.wait(), timeout)
            except TimeoutError:
                await self._close(w)
                return "not subscribed"
            if w.subscribe not in w.last:
                await self._close(w)
                return "subscription refused"
        return None

    async def _close(self, w: Watcher) -> None:
        ws, w.ws = w.ws, None
        if ws is not None:
            try:
                await asyncio.wait_for(ws.close(), 2)
            except Exception:  # noqa: S110 - an unresponsive server: the reader is cancelled below anyway
                pass
        if w.reader is not None:
            w.reader.cancel()
            w.reader = None

    async def _resume(self, w: Watcher, after: dict) -> None:
        if not after or not w.open:
            return
        w.resuming |= set(after)
        try:
            await w.ws.send_str(json.dumps({"type": "resume", "after": after}))
        except Exception:  # the socket went away; the next reconnect resumes
            w.resuming -= set(after)

    async def _read(self, w: Watcher, ws) -> None:
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                await self._on_message(w, json.loads(msg.data), time.time())
        except Exception:  # noqa: S110 - a broken socket ends like a closed one
            pass
        finally:
            w.hello.set()  # a close before hello must not leave _open waiting
            w.ready.set()

    async def _on_message(self, w: Watcher, data: dict, now: float) -> None:
        kind = data.get("type")
        if kind == "hello":
            streams = data.get("streams")
            if isinstance(streams, dict):
                w.numbered = True
                after = {s: w.last[s] for s in streams if s in w.last}
                for stream, head in streams.items():
                    w.last.setdefault(stream, head)  # a first connection starts at the head
                await self._resume(w, after)  # a reconnection fetches what it missed
            if w.subscribe and w.open:
                w.resuming.add(w.subscribe)  # the answer replays what was missed, as a resume does
                await w.ws.send_str(json.dumps({"type": "subscribe", "stream": w.subscribe,
                                                "after": w.last.get(w.subscribe)}))
            w.hello.set()
            return
        if kind in ("subscribed", "unsubscribed") and data.get("stream") == w.subscribe:
            w.resuming.discard(w.subscribe)
            if kind == "subscribed":
                w.last[w.subscribe] = max(w.last.get(w.subscribe, 0), data.get("head") or 0)
            w.ready.set()
            return
        if kind in ("resumed", "reset"):
            w.resuming.discard(data.get("stream"))
            w.resets += kind == "reset"
            return
        stream, seq, prev = data.get("stream"), data.get("seq"), data.get("prev")
        gap = None
        if isinstance(seq, int) and stream is not None:
            last = w.last.get(stream)
            if last is not None and isinstance(prev, int) and prev > last and stream not in w.resuming:
                gap = {stream: last}  # events last+1..prev never came
            if last is None or seq > last:
                w.last[stream] = seq
        self._record(w, data, stream, now)
        if gap:
            await self._resume(w, gap)

    def _record(self, w: Watcher, data: dict, stream, now: float) -> None:
        if "bench_run" not in data and isinstance(data.get("data"), dict):
            data = {**data["data"], "sent_at": data.get("sent_at")}  # a release event: ours are in its data
        run = data.get("bench_run")
        if run is None:
            return
        self.last_arrival = now
        got = w.got.setdefault(run, {})
        n = data.get("bench_n")
        if n in got:
            return
        sent = data.get("sent_at") or data.get("bench_sent_at")
        got[n] = now - float(sent)
        if stream in w.resuming:
            w.via_resume += 1
        if len(got) == self.expected.get(run, -1):
            w.done_at[run] = now

    # --- commands -----------------------------------------------------------------
    async def connect(self, c: dict) -> dict:
        """Connect watchers, a bounded number of handshakes at a time, each retried a few times:
        the fan-out rows measure delivery to watchers that are there, not a connection storm."""
        new = [Watcher(spec) for spec in c["watchers"]]
        self.watchers += new
        gate = asyncio.Semaphore(c.get("concurrency", 20))
        errors: dict[str, int] = {}
        start = time.monotonic()

        async def one(w):
            for attempt in range(c.get("retries", 3) + 1):
                async with gate:
                    why = await self._open(w, c.get("timeout", 10))
                if why is None:
                    return True
                errors[why] = errors.get(why, 0) + 1
                await asyncio.sleep(0.5 * (attempt + 1))
            return False

        results = await asyncio.gather(*(one(w) for w in new))
        return {"connected": sum(results), "failed": len(new) - sum(results), "errors": errors,
                "elapsed_s": round(time.monotonic() - start, 2)}

    def _stats(self, run: str) -> dict:
        latencies = [round(lat, 4) for w in self.watchers for lat in w.got.get(run, {}).values()]
        return {"watchers": len(self.watchers), "open": sum(w.open for w in self.watchers),
                "delivered": len(latencies), "latencies": latencies,
                "via_resume": sum(w.via_resume for w in self.watchers),
                "resets": sum(w.resets for w in self.watchers),
                "numbered": any(w.numbered for w in self.watchers)}

    def _complete(self, run: str) -> bool:
        return all(len(w.got.get(run, ())) >= self.expected[run] for w in self.watchers)

    async def _until(self, predicate, deadline: float) -> None:
        while not predicate() and time.time() < deadline:
            await asyncio.sleep(0.05)

    async def collect(self, c: dict) -> dict:
        """Wait until every watcher has every event of the run, until nothing has arrived for
        `quiet` s after the last was sent (`sent_done`), or at most until `deadline` (epoch s). Then,
        if the server speaks the numbered protocol, a watcher still missing events resumes
        once (what a browser does on its next gap or reconnect) and is given resume_wait s."""
        run = c["run"]
        self.expected[run] = c["count"]
        for w in self.watchers:  # events that arrived before the expectation was known
            if len(w.got.get(run, ())) >= c["count"]:
                w.done_at.setdefault(run, time.time())
        quiet, sent_done = c.get("quiet", 5), c.get("sent_done", 0)

        def settled():
            now = time.time()
            stalled = now - max(self.last_arrival, sent_done) > quiet
            return self._complete(run) or stalled

        await self._until(settled, c["deadline"])
        resumed = 0
        if not self._complete(run) and any(w.numbered for w in self.watchers):
            for w in self.watchers:
                if len(w.got.get(run, ())) < c["count"] and w.open:
                    resumed += 1
                    await self._resume(w, dict(w.last))
            await self._until(lambda: self._complete(run), time.time() + c.get("resume_wait", 5))
        return {**self._stats(run), "resumed_at_end": resumed}

    async def close(self, c: dict) -> dict:
        count = len(self.watchers)
        await asyncio.gather(*(self._close(w) for w in self.watchers))
        self.watchers = []
        return {"closed": count}

    async def storm(self, c: dict) -> dict:
        """Every watcher drops its connection and reconnects at a random moment within
        `window` s (retrying with jittered backoff, as the browser does, until the deadline),
        while the run's events are being emitted. Reports how many got back on the first try,
        in all, when the last one was back, and when the last one had every event."""
        run, window = c["run"], c["window"]
        self.expected[run] = c["count"]
        await asyncio.sleep(c.get("start_in", 0))
        await asyncio.gather(*(self._close(w) for w in self.watchers))
        t0 = time.time()
        deadline = t0 + c["deadline_s"]
        first_try, back_at, errors = [0], {}, {}

        async def one(w):
            await asyncio.sleep(random.uniform(0, window))
            backoff = 1.0
            attempt = 0
            while time.time() < deadline:
                why = await self._open(w, min(c.get("timeout", 10), max(0.1, deadline - time.time())))
                if why is None:
                    first_try[0] += attempt == 0
                    back_at[w.id] = time.time() - t0
                    return
                errors[why] = errors.get(why, 0) + 1
                attempt += 1
                await asyncio.sleep(min(backoff * random.uniform(0.5, 1.5), max(0, deadline - time.time())))
                backoff = min(backoff * 2, 8)

        await asyncio.gather(*(one(w) for w in self.watchers))
        await self._until(lambda: self._complete(run), deadline)
        complete = self._complete(run)
        all_back = len(back_at) == len(self.watchers)
        all_connected = round(max(back_at.values(), default=0), 2) if all_back else None
        # Caught up: back, and holding every event of the run (the last one to get there sets the time).
        done = [max(back_at[w.id], w.done_at.get(run, t0) - t0) for w in self.watchers] if all_back else []
        return {**self._stats(run), "clients": len(self.watchers), "first_try": first_try[0],
                "connected": len(back_at), "errors": errors, "all_connected_s": all_connected,
                "caught_up_s": round(max(done, default=0), 2) if complete and all_back else None}


async def main() -> None:
    clients = Clients()
    await clients.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2 ** 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": True}), flush=True)
    while line := await reader.readline():
        command = json.loads(line)
        if command["cmd"] == "quit":
            break
        try:
            answer = await getattr(clients, command["cmd"])(command)
        except Exception as exc:  # the parent reports it and stops the run
            answer = {"error": f"{exc.__class__.__name__}: {exc}"}
        print(json.dumps(answer), flush=True)
    await clients.close({})
    await clients.session.close()


if __name__ == "__main__":
    asyncio.run(main())

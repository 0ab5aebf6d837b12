"""The live events fan-out benchmark (paas/realtime/bench.py, `manage.py bench --only realtime`)
end to end at a tiny size: daphne as runall starts it, a Redis channel layer, the emitter
child and aiohttp watchers. Every event reaches every watcher, the table is printed, and
nothing is left running or on disk afterwards."""
import asyncio
import json
import os

import pytest

from paas.realtime import bench

# It starts daphne and other processes, as the browser tests do: on the same xdist worker
# as they (--dist loadgroup), so the servers of both never compete for the two cores.
pytestmark = [pytest.mark.xdist_group("e2e")]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_tiny_fanout_delivers_every_event_and_cleans_up(settings):
    lines = []
    result = bench.run(out=lines.append, watchers=(3,), events=3, rate=10.0, burst=5, burst_watchers=2,
                       burst_rate=100.0, reconnect=3, reconnect_events=3, reconnect_rate=3.0, reconnect_limit=5.0,
                       two_processes=None, grace=2.0, max_wait=10.0, resume_wait=2.0, timeout=120.0,
                       redis_url=settings.REDIS_URL or "", temporary_db=True)

    fanout, burst = result["rows"]
    assert (fanout["kind"], fanout["watchers"], fanout["events"], fanout["webs"]) == ("fanout", 3, 3, 1)
    assert (fanout["connected"], fanout["delivered"], fanout["expected"], fanout["lost"]) == (3, 9, 9, 0)
    assert 0 <= fanout["p50"] <= fanout["p99"] < 5
    assert (burst["kind"], burst["delivered"], burst["lost"]) == ("burst", 10, 0)

    storm = result["reconnect"]
    # Every watcher is back; whether the events sent while it was away come back too
    # depends on the server (resume), which is what the benchmark measures, not asserts.
    assert (storm["watchers"], storm["connected_before"], storm["connected"]) == (3, 3, 3)
    assert storm["all_connected_s"] is not None
    assert storm["expected"] == storm["delivered"] + storm["lost"] == 9

    table = "\n".join(lines)
    assert "| web | watchers | events | connected | delivered | lost | P50 | P99 |" in table
    assert "| 1 | 3 | 3 at 10/s | 3 | 9/9 | 0 |" in table
    assert "issue 7, before" in table and "Mass reconnect" in table

    assert result["pids"] and not any(_alive(pid) for pid in result["pids"])
    assert not os.path.exists(result["tmp"])


# --- the watchers' side of the live stream protocol (paas/realtime/bench_clients.py) ---------

class FakeSocket:
    closed = False

    def __init__(self):
        self.sent = []

    async def send_str(self, text):
        self.sent.append(json.loads(text))


def _watcher():
    from paas.realtime.bench_clients import Clients, Watcher

    clients = Clients()
    watcher = Watcher({"id": 0, "url": "ws://127.0.0.1:1/ws/notifications/", "origin": "http://127.0.0.1:1",
                       "cookie": "sessionid=x"})
    watcher.ws = FakeSocket()
    clients.watchers.append(watcher)
    return clients, watcher


def _event(seq, prev, n, **extra):
    return {"type": "bench.event", "stream": "tenant.1", "seq": seq, "prev": prev, "bench_run": "r", "bench_n": n,
            "bench_sent_at": 100.0, **extra}


def test_watcher_resumes_on_a_gap_and_counts_the_replay_once():
    clients, w = _watcher()
    clients.expected["r"] = 3

    async def scenario():
        await clients._on_message(w, {"type": "hello", "streams": {"tenant.1": 10}}, 100.5)
        await clients._on_message(w, _event(11, 10, 1, sent_at=100.2), 100.5)
        assert w.ws.sent == []  # no gap: prev is the last seq it has
        await clients._on_message(w, _event(13, 12, 3), 101.0)  # seq 12 never came
        assert w.ws.sent == [{"type": "resume", "after": {"tenant.1": 11}}]
        await clients._on_message(w, _event(12, 11, 2), 101.5)  # the replay
        await clients._on_message(w, _event(13, 12, 3), 101.5)  # replayed again: already had it
        await clients._on_message(w, {"type": "resumed", "stream": "tenant.1", "head": 13}, 101.5)

    asyncio.run(scenario())
    assert sorted(w.got["r"]) == [1, 2, 3] and w.via_resume == 1  # only 2 came through the resume
    assert w.got["r"][1] == pytest.approx(0.3)  # the server's sent_at wins over the emitter's time
    assert w.got["r"][3] == pytest.approx(1.0)
    assert w.last == {"tenant.1": 13} and not w.resuming and w.done_at["r"] == 101.5


def test_reconnecting_watcher_resumes_from_its_last_seq_and_old_servers_get_no_resume():
    clients, w = _watcher()

    async def scenario():
        w.last = {"tenant.1": 7}
        await clients._on_message(w, {"type": "hello", "streams": {"tenant.1": 9}}, 1.0)
        assert w.ws.sent == [{"type": "resume", "after": {"tenant.1": 7}}]
        w.ws.sent.clear()
        await clients._on_message(w, {"type": "hello", "tenants": [1]}, 1.0)  # today's server: no streams
        await clients._on_message(w, {"type": "bench.event", "bench_run": "r", "bench_n": 1,
                                      "bench_sent_at": 0.5}, 1.0)

    asyncio.run(scenario())
    assert w.ws.sent == [] and w.got["r"] == {1: 0.5}


def test_bench_command_passes_its_realtime_options(monkeypatch):
    from django.core.management import call_command

    calls = []
    monkeypatch.setattr(bench, "run", lambda **kwargs: calls.append(kwargs))
    call_command("bench", "--only", "realtime", "--watchers", "10,1000", "--burst", "0", "--two-processes", "500",
                 "--client-procs", "2", "--max-wait", "30")
    (kwargs,) = calls
    assert kwargs["watchers"] == (10, 1000) and kwargs["burst"] == 0 and kwargs["two_processes"] == 500
    assert kwargs["client_procs"] == 2 and kwargs["max_wait"] == 30 and kwargs["reconnect"] == 1000
    assert kwargs["events"] == 20 and kwargs["rate"] == 2 and kwargs["emitters"] == 2

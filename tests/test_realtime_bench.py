"""The live events fan-out benchmark (paas/realtime/bench.py, `manage.py bench --only realtime`)
end to end at a tiny size: daphne as runall starts it, a Redis channel layer, the emitter
child and aiohttp watchers. Every event reaches every watcher, the table is printed, and
nothing is left running or on disk afterwards."""
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

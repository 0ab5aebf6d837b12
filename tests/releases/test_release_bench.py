"""The release benchmark (releases/bench.py, `manage.py bench --only release`) at a tiny size:
(a) watchers subscribed to one release's stream get every event, also across a mass reconnect
(they subscribe again from their last seq and the server replays what they missed); (b) says
why it cannot run instead of failing when PostgreSQL is not there."""
import pytest
from django.db import connection

from releases import bench, bench_release

# daphne and other processes, as the browser tests: on their xdist worker, not competing with them.
pytestmark = [pytest.mark.xdist_group("e2e")]


def test_tiny_release_fanout_and_reconnect_deliver_every_event(settings):
    lines = []
    result = bench.run_fanout(lines.append, watchers=(3,), events=3, rate=10.0, reconnect=3, grace=2.0,
                              max_wait=10.0, timeout=150.0, redis_url=settings.REDIS_URL or "", temporary_db=True)
    (row,) = result["rows"]
    assert (row["connected"], row["delivered"], row["expected"], row["lost"]) == (3, 9, 9, 0)
    assert 0 <= row["p50"] <= row["p99"] < 5
    storm = result["reconnect"]
    assert (storm["connected"], storm["expected"], storm["delivered"], storm["lost"]) == (3, 30, 30, 0)
    table = "\n".join(lines)
    assert "| watchers of one release |" in table and "| 3 | 3 at 10/s | 3 | 9/9 | 0 |" in table


@pytest.mark.django_db
def test_release_part_explains_what_it_needs(monkeypatch):
    # On PostgreSQL the release part would run for minutes (`make bench`): answer as SQLite does.
    monkeypatch.setattr(connection, "vendor", "sqlite")
    lines = []
    assert bench_release.run(lines.append) is None
    assert lines == ["  not measured: needs PostgreSQL (DATABASE_URL): the executor's threads write the database"]

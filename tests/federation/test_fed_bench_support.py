"""The federation benchmark cleans up after itself: its simulator's state directory holds
kubeconfigs with bearer tokens and must be gone when the benchmark ends, failed or not."""
import pytest

from clusters.federation import bench_support


def test_the_simulator_directory_with_its_tokens_is_removed_even_when_the_benchmark_fails():
    seen = {}
    with pytest.raises(RuntimeError, match="benchmark failed"):
        with bench_support.simulator(1) as kubeconfigs:
            path = next(iter(kubeconfigs.values()))
            seen["dir"], seen["token"] = path.parent, "token" in path.read_text()
            raise RuntimeError("benchmark failed")
    assert seen["token"] and not seen["dir"].exists()


def test_the_statement_counter_counts_every_thread_and_is_removed_after(db):
    import threading

    from django.db import connection
    from django.db.backends import utils

    original = utils.CursorWrapper._execute_with_wrappers
    with bench_support.StatementCounter() as counter:
        def query():
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            connection.close()

        threads = [threading.Thread(target=query) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert counter.count == 3
    assert utils.CursorWrapper._execute_with_wrappers is original


def test_resource_figures_read_this_process():
    with bench_support.ResourceMonitor(interval=0.01) as monitor:
        pass
    assert monitor.peak_threads >= 1 and monitor.peak_fds > 0 and monitor.peak_rss_mib > 10
    assert bench_support.rss_mib() <= bench_support.peak_rss_mib() + 1

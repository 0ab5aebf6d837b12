"""Calls the executor runs on its thread pool besides the drivers' ticks: the federation sync of
one cluster (inline, not at the next beat) and the request generator's counts."""
import threading

import requests
from django.db import connection


def sync_in_thread(cluster_ids) -> None:
    """Sync these clusters now, skipping any whose sync runs elsewhere (the federation lock)."""
    from clusters.federation import sync, tasks
    from paas import locks

    try:
        with locks.held_many(tasks.lock_name("sync"), cluster_ids) as mine:
            if mine:
                sync.sync_clusters(mine)
    finally:
        if threading.current_thread() is not threading.main_thread():
            connection.close()  # a pool thread's own connection: not left open when the thread idles


def sample(base_url: str, name: str) -> dict | None:
    """The request generator's counts (traffic.sample), or None when it does not answer."""
    try:
        response = requests.get(f"{base_url}/traffic/v1/generators/{name}", timeout=(1.0, 2.0))
        if response.status_code == 200:
            return response.json()
    except (requests.RequestException, ValueError):
        pass
    return None

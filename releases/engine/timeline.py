"""Opt-in timeline of the executor (RELEASE_TIMELINE=<file>): one line per milestone with the
seconds since the executor started, to see where a release's time goes (bench_release.py).
Off (the default) it costs one attribute check per call."""
import os
import threading
import time

_PATH = os.environ.get("RELEASE_TIMELINE", "")
_T0 = time.monotonic()
_LOCK = threading.Lock()


def mark(what: str, *args) -> None:
    if not _PATH:
        return
    line = f"{time.monotonic() - _T0:9.3f} {threading.current_thread().name[:18]:18} {what % args if args else what}\n"
    with _LOCK, open(_PATH, "a") as out:
        out.write(line)

"""paas.supervisor (what `make run` uses): a child that dies is restarted with backoff
while the others keep running; a crash loop is reported; stop() leaves no orphans.
Driven through the Supervisor API with fake children (Python one-liners)."""
import io
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from paas.supervisor import ChildExited, ChildSpec, RestartPolicy, Supervisor

ROOT = Path(__file__).resolve().parents[1]
SLEEPER = (sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make(specs, **kwargs):
    out = io.StringIO()
    sup = Supervisor(specs, env=dict(os.environ), cwd=ROOT, out=out, stop_timeout=5, **kwargs)
    return sup, out


def wait_exit(sup, name, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = sup._procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        time.sleep(0.02)
    raise AssertionError(f"{name} did not exit")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_crashing_child_is_restarted_with_growing_capped_delays_and_reported():
    clock = Clock()
    policy = RestartPolicy(initial=1, cap=4, stable_after=60, crash_loop_after=4)
    crasher = ChildSpec("worker", (sys.executable, "-c", "import sys; sys.exit(3)"))
    sup, out = make([crasher, ChildSpec("web", SLEEPER)], policy=policy, clock=clock)
    sup.start()
    web_pid = sup._procs["web"].pid
    try:
        delays = []
        for _ in range(5):
            wait_exit(sup, "worker")
            sup.check()
            delays.append(sup.status()["worker"]["restart_in"])
            clock.now += delays[-1]
            sup.check()  # due: started again
            assert sup.status()["worker"]["restart_in"] is None
        assert delays == [1, 2, 4, 4, 4]
        text = out.getvalue()
        assert "[runall] worker exited with code 3; restarting in 1 s" in text
        assert "[runall] worker exited with code 3; restarting in 4 s" in text
        assert text.count("worker is crash-looping") == 2  # at the 4th and the 5th exit in a row
        # The rest of the platform was not taken down with it.
        assert sup._procs["web"].pid == web_pid and sup._procs["web"].poll() is None
    finally:
        sup.stop()


def test_a_child_that_stayed_up_starts_the_backoff_afresh():
    clock = Clock()
    sup, out = make([ChildSpec("worker", SLEEPER)], policy=RestartPolicy(initial=1, cap=30, stable_after=60),
                    clock=clock)
    sup.start()
    try:
        for expected in (1, 2):  # two quick deaths in a row
            os.killpg(sup._procs["worker"].pid, signal.SIGKILL)
            wait_exit(sup, "worker")
            sup.check()
            assert sup.status()["worker"]["restart_in"] == expected
            clock.now += expected
            sup.check()
        clock.now += 120  # then it stays up for two minutes
        sup.check()
        os.killpg(sup._procs["worker"].pid, signal.SIGKILL)
        wait_exit(sup, "worker")
        sup.check()
        assert sup.status()["worker"]["restart_in"] == 1
        assert "[runall] worker was killed by SIGKILL; restarting in 1 s" in out.getvalue()
        assert sup.status()["worker"]["exits"] == 3
    finally:
        sup.stop()


def test_wait_restarts_in_real_time_until_a_stop_is_requested():
    policy = RestartPolicy(initial=0.1, cap=0.2, stable_after=60)
    sup, out = make([ChildSpec("worker", (sys.executable, "-c", "print('boom')"))], policy=policy)
    sup.start()
    import threading

    stopper = threading.Timer(1.5, sup.request_stop)
    stopper.start()
    try:
        sup.wait(poll_interval=0.05)
    finally:
        sup.stop()
    assert sup.status()["worker"]["exits"] >= 3
    assert out.getvalue().count("[worker] boom") >= 3


def test_stop_leaves_no_orphans_and_cancels_pending_restarts(tmp_path):
    # The child starts a grandchild in its own process group (like celery's pool) and writes its pid.
    pidfile = tmp_path / "grandchild.pid"
    script = ("import subprocess, sys, time; "
              f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    clock = Clock()
    sup, _ = make([ChildSpec("worker", (sys.executable, "-c", script)), ChildSpec("beat", SLEEPER)], clock=clock)
    sup.start()
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(pidfile.read_text())
    worker = sup._procs["worker"].pid
    # beat dies: a restart is pending when Ctrl-C arrives.
    beat = sup._procs["beat"]
    os.kill(beat.pid, signal.SIGKILL)
    wait_exit(sup, "beat")
    sup.check()
    assert sup.status()["beat"]["restart_in"] == 1
    sup.request_stop()
    sup.stop()
    clock.now += 100
    sup.check()  # what the wait loop would do after the stop: nothing restarts
    assert not sup.status()["beat"]["running"]
    # The group was signalled; the grandchild (reparented, not ours to wait for) may need a moment to exit.
    deadline = time.monotonic() + 5
    while (alive(worker) or alive(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(worker) and not alive(grandchild)


def test_a_crashed_childs_leftover_processes_are_swept_before_the_restart(tmp_path):
    pidfile = tmp_path / "left.pid"
    script = ("import subprocess, sys; "
              f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              f"open({str(pidfile)!r}, 'w').write(str(p.pid)); sys.exit(1)")
    sup, _ = make([ChildSpec("worker", (sys.executable, "-c", script))], clock=Clock())
    sup.start()
    try:
        wait_exit(sup, "worker")
        left = int(pidfile.read_text())
        sup.check()
        deadline = time.monotonic() + 5
        while alive(left) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(left)
    finally:
        sup.stop()


def test_without_restart_a_dead_child_still_stops_the_set():
    sup, _ = make([ChildSpec("worker", (sys.executable, "-c", "import sys; sys.exit(2)"))], restart=False)
    sup.start()
    try:
        wait_exit(sup, "worker")
        with pytest.raises(ChildExited, match="status 2"):
            sup.check()
    finally:
        sup.stop()

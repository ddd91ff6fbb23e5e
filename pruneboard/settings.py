"""One settings module; every setting an operator may change comes from the environment
(`.env.example` lists them). With no environment at all this is the embedded default: SQLite,
a Celery broker kept in a SQLite file (no server), uploads and state under `var/`."""

import re
import socket
from pathlib import Path

import dj_database_url
import plotly
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from .env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PRUNEBOARD_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    key = env_str("DJANGO_SECRET_KEY", "")
    if key:
        return key
    if env_bool("PRUNEBOARD_PRODUCTION", False):
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when PRUNEBOARD_PRODUCTION=1")
    path = VAR_DIR / "secret_key"  # embedded default: one random key per installation
    if not path.exists():
        path.write_text(get_random_secret_key())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "leaderboard",
    "submissions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages and API answers gzipped for clients that accept it (static files come compressed
    # from WhiteNoise). Django pads each compressed body with random bytes against BREACH.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After the session and user (its 413 page shows who is logged in); nothing before it
    # reads a request's body.
    "pruneboard.middleware.UploadSizeMiddleware",
]

ROOT_URLCONF = "pruneboard.urls"
WSGI_APPLICATION = "pruneboard.wsgi.application"

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

DATABASES = {"default": dj_database_url.parse(
    env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'pruneboard.sqlite3'}"), conn_max_age=60,
    conn_health_checks=True)}
# The web server and the workers write to one SQLite file: they wait for each other (30 s)
# instead of failing. A transaction takes the write lock when it begins (IMMEDIATE): one that
# read first and wrote later would otherwise fail at once with "database is locked" whenever
# another process had written in between (SQLite cannot wait there), as a worker's run start
# did against `make run`'s seeding.
SQLITE_OPTIONS = {"timeout": 30, "transaction_mode": "IMMEDIATE",
                  "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# `collectstatic` copies every static file here under a content-hashed name (site.3f2a9c.css)
# with a gzip copy beside it (and a brotli one when the Brotli package is installed);
# WhiteNoise serves those with `Cache-Control: max-age=315360000, immutable` and picks the
# compressed copy the browser accepts. `manage.py serve` and the Dockerfile run it; without it
# (and DEBUG off) a page fails with "Missing staticfiles manifest entry".
STATIC_ROOT = Path(env_str("PRUNEBOARD_STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# plotly.js comes from the plotly package itself: served locally, never from a CDN.
STATICFILES_DIRS = [BASE_DIR / "static", ("plotly", Path(plotly.__file__).parent / "package_data")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = Path(env_str("PRUNEBOARD_MEDIA_ROOT", str(VAR_DIR / "media")))

# Uploads: a strategy file is at most this many bytes. An upload request declaring more than
# this plus 64 KiB for the other fields is refused (413) before its body is read
# (pruneboard.middleware); a file over the limit is dropped as it streams in (submissions.uploads).
PRUNEBOARD_MAX_UPLOAD_BYTES = env_int("PRUNEBOARD_MAX_UPLOAD_BYTES", 256 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# In memory, dropped past the limit; Django's own handlers (memory, then temporary file) would
# store whatever arrives.
FILE_UPLOAD_HANDLERS = ["submissions.uploads.LimitedUploadHandler"]
# Per user (staff exempt): submissions a day (UTC; failures of the platform do not count) and
# runs queued or running at once (a submission on one embedded benchmark is 21 runs).
PRUNEBOARD_SUBMISSIONS_PER_DAY = env_int("PRUNEBOARD_SUBMISSIONS_PER_DAY", 10)
PRUNEBOARD_QUEUED_RUNS_PER_USER = env_int("PRUNEBOARD_QUEUED_RUNS_PER_USER", 200)

# Password guessing and sign-up (pruneboard.throttles, whose docstring has the design): a client
# address with PRUNEBOARD_LOGIN_FAILURES failed log-ins (site, admin and /api/token/ together)
# in the PRUNEBOARD_LOGIN_WINDOW_SECONDS since the first is refused until the window ends; a
# username with that many failures from anywhere is refused only from the addresses that failed
# for it (never from a new one or one its owner logged in from). /api/token/ also takes
# PRUNEBOARD_TOKEN_RATE requests per address; sign-up makes PRUNEBOARD_SIGNUP_RATE accounts per
# address. The client's address is X-Forwarded-For's only behind PRUNEBOARD_NUM_PROXIES trusted proxies.
PRUNEBOARD_LOGIN_FAILURES = env_int("PRUNEBOARD_LOGIN_FAILURES", 5)
PRUNEBOARD_LOGIN_WINDOW_SECONDS = env_int("PRUNEBOARD_LOGIN_WINDOW_SECONDS", 15 * 60)
PRUNEBOARD_NUM_PROXIES = env_int("PRUNEBOARD_NUM_PROXIES", 0)
if PRUNEBOARD_LOGIN_FAILURES < 1 or PRUNEBOARD_LOGIN_WINDOW_SECONDS < 1:
    raise ImproperlyConfigured("PRUNEBOARD_LOGIN_FAILURES and PRUNEBOARD_LOGIN_WINDOW_SECONDS must be 1 or more")


def _rate(name: str, rate: str) -> str:
    """A DRF throttle rate, requests/period; anything else stops the process, naming the setting."""
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", rate):
        raise ImproperlyConfigured(f"{name}={rate!r} is not a rate (requests/period: e.g. 10/hour; "
                                   f"periods second, minute, hour, day)")
    return rate


PRUNEBOARD_TOKEN_RATE = _rate("PRUNEBOARD_TOKEN_RATE", env_str("PRUNEBOARD_TOKEN_RATE", "10/hour"))
PRUNEBOARD_SIGNUP_RATE = _rate("PRUNEBOARD_SIGNUP_RATE", env_str("PRUNEBOARD_SIGNUP_RATE", "5/day"))
if PRUNEBOARD_NUM_PROXIES < 0:
    raise ImproperlyConfigured("PRUNEBOARD_NUM_PROXIES must be 0 (clients connect directly) or more")


def _cache(url: str) -> dict:
    """The cache the throttles count in, shared by every web process that serves the site.
    Default: files in var/cache, shared by the web processes of one machine; web servers on
    several machines need redis://. locmem:// is per process (development, tests)."""
    if not url:
        return {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(VAR_DIR / "cache"), "OPTIONS": {"MAX_ENTRIES": 10_000}}
    if url.startswith(("redis://", "rediss://")):
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    if url == "locmem://":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "OPTIONS": {"MAX_ENTRIES": 10_000}}
    raise ImproperlyConfigured(f"PRUNEBOARD_CACHE_URL={url!r} is not redis://..., rediss://... or "
                               f"locmem:// (unset: files in var/cache)")


CACHES = {"default": _cache(env_str("PRUNEBOARD_CACHE_URL", ""))}
# A benchmark page's Kendall tau against its other tracks reads their scores from the cache,
# computed again at most this often (the page's own ranking is always live).
PRUNEBOARD_TAU_CACHE_SECONDS = env_int("PRUNEBOARD_TAU_CACHE_SECONDS", 60)
# A benchmark's ranking is cached under a fingerprint of what it reads (a finished run changes
# it, so it is never stale); an entry is kept this long (docs/rankings.md).
PRUNEBOARD_RANKING_CACHE_SECONDS = env_int("PRUNEBOARD_RANKING_CACHE_SECONDS", 24 * 3600)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_THROTTLE_RATES": {"token": PRUNEBOARD_TOKEN_RATE},
    "NUM_PROXIES": PRUNEBOARD_NUM_PROXIES,
}

# Celery: Redis in production (CELERY_BROKER_URL=redis://...); by default a SQLite file that
# needs no server. Results live in the database, never in a result backend.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Longer than the longest run's time limit, so a run still executing is never redelivered;
    # a run whose worker died is found sooner by the reaper (its lease expires).
    from evaluator.benchmarks import longest_time_limit

    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", longest_time_limit() + 3600)}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# Delivery guarantees (README "Delivery"): the database is the queue of record. The dispatcher
# (beat, every PRUNEBOARD_DISPATCH_SECONDS, on the `control` queue that no run waits in) keeps
# PRUNEBOARD_DISPATCH_AHEAD runs in the broker per busy worker of a queue, chosen by priority
# (submissions.dispatch), and sends again what the broker lost (a run it no longer holds,
# PRUNEBOARD_QUEUE_STALE_SECONDS after it was sent). A worker holds a lease on the run it
# executes and renews it with a heartbeat; the reaper (beat, control queue) puts runs whose
# lease expired back to waiting, up to PRUNEBOARD_MAX_ATTEMPTS.
PRUNEBOARD_LEASE_SECONDS = env_int("PRUNEBOARD_LEASE_SECONDS", 180)
PRUNEBOARD_HEARTBEAT_SECONDS = env_int("PRUNEBOARD_HEARTBEAT_SECONDS", 30)
PRUNEBOARD_MAX_ATTEMPTS = env_int("PRUNEBOARD_MAX_ATTEMPTS", 3)
PRUNEBOARD_REAP_SECONDS = env_int("PRUNEBOARD_REAP_SECONDS", 60)
PRUNEBOARD_DISPATCH_SECONDS = env_int("PRUNEBOARD_DISPATCH_SECONDS", 5)
PRUNEBOARD_DISPATCH_AHEAD = env_int("PRUNEBOARD_DISPATCH_AHEAD", 2)
# The fill-in (built-in methods' runs) keeps at least this share of a queue's dispatches while
# researchers' runs wait too (one in every floor(1 / share)); researchers' runs go first otherwise.
PRUNEBOARD_FILLIN_SHARE = env_float("PRUNEBOARD_FILLIN_SHARE", 0.25)
if not 0 <= PRUNEBOARD_FILLIN_SHARE <= 0.5:
    raise ImproperlyConfigured(f"PRUNEBOARD_FILLIN_SHARE={PRUNEBOARD_FILLIN_SHARE:g} must be from 0 (the fill-in "
                               f"waits for researchers' runs) to 0.5 (researchers' runs still go first)")
PRUNEBOARD_QUEUE_STALE_SECONDS = env_int("PRUNEBOARD_QUEUE_STALE_SECONDS", 30)
PRUNEBOARD_TASK_RETRIES = env_int("PRUNEBOARD_TASK_RETRIES", 5)  # platform errors, with backoff
if PRUNEBOARD_HEARTBEAT_SECONDS * 2 > PRUNEBOARD_LEASE_SECONDS:
    raise ImproperlyConfigured("PRUNEBOARD_LEASE_SECONDS must be at least twice PRUNEBOARD_HEARTBEAT_SECONDS")
if PRUNEBOARD_DISPATCH_AHEAD < 1 or PRUNEBOARD_DISPATCH_SECONDS < 1 or PRUNEBOARD_REAP_SECONDS < 1:
    raise ImproperlyConfigured("PRUNEBOARD_DISPATCH_AHEAD, PRUNEBOARD_DISPATCH_SECONDS and "
                               "PRUNEBOARD_REAP_SECONDS must be 1 or more")
# Results are content-addressed (evaluator/sharing.py): a run whose result key has a finished
# result reuses it; this share of such runs (0 to 1) is computed anyway and must match, or the
# mismatch is logged and recorded (admin: Result checks).
PRUNEBOARD_VERIFY_SHARED = env_float("PRUNEBOARD_VERIFY_SHARED", 0.0)
if not 0 <= PRUNEBOARD_VERIFY_SHARED <= 1:
    raise ImproperlyConfigured("PRUNEBOARD_VERIFY_SHARED must be a share from 0 to 1 (1: verify every shared run)")
# Workers report their queues, device and the benchmarks they can run (weights verified, data
# present) in a heartbeat row (submissions.capabilities), written when the worker is ready and
# every PRUNEBOARD_WORKER_HEARTBEAT_SECONDS after; a worker not heard from for
# PRUNEBOARD_WORKER_STALE_SECONDS no longer counts. Only benchmarks some live worker can run
# are offered.
# The name a worker's runs record as `worker_host`: the machine's by default; each container of
# docker-compose.yml names itself (containers on host networking share the machine's name).
PRUNEBOARD_WORKER_NAME = env_str("PRUNEBOARD_WORKER_NAME", socket.gethostname())
PRUNEBOARD_WORKER_HEARTBEAT_SECONDS = env_int("PRUNEBOARD_WORKER_HEARTBEAT_SECONDS", 30)
PRUNEBOARD_WORKER_STALE_SECONDS = env_int("PRUNEBOARD_WORKER_STALE_SECONDS", 120)
if not 1 <= PRUNEBOARD_WORKER_HEARTBEAT_SECONDS < PRUNEBOARD_WORKER_STALE_SECONDS:
    raise ImproperlyConfigured("PRUNEBOARD_WORKER_STALE_SECONDS must be more than "
                               "PRUNEBOARD_WORKER_HEARTBEAT_SECONDS, which must be 1 or more")
# Control work has its own queue, consumed by its own worker process (`manage.py serve` starts
# one with the beat); a message older than its interval is dropped (the next tick does the work).
CELERY_TASK_ROUTES = {"submissions.tasks.runs_reap": {"queue": "control"},
                      "submissions.tasks.runs_dispatch": {"queue": "control"}}
CELERY_BEAT_SCHEDULE = {
    "reap-expired-runs": {"task": "submissions.tasks.runs_reap", "schedule": PRUNEBOARD_REAP_SECONDS,
                          "options": {"queue": "control", "expires": PRUNEBOARD_REAP_SECONDS}},
    "dispatch-runs": {"task": "submissions.tasks.runs_dispatch", "schedule": PRUNEBOARD_DISPATCH_SECONDS,
                      "options": {"queue": "control", "expires": PRUNEBOARD_DISPATCH_SECONDS}},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULER = "pruneboard.broker:Scheduler"  # reconnects after a failed send

# `manage.py serve` (`make run`): how many run workers it starts, each a process of its own; 0
# (the default): one per core the process may use, each with torch on cores / workers threads
# (several small runs at once use the cores better than one run on all of them).
PRUNEBOARD_RUN_WORKERS = env_int("PRUNEBOARD_RUN_WORKERS", 0)
if PRUNEBOARD_RUN_WORKERS < 0:
    raise ImproperlyConfigured("PRUNEBOARD_RUN_WORKERS must be 0 (one per core) or more")

# CPU threads torch uses in each worker process (and in its sandbox children); 0 keeps torch's
# default, every core. Several workers on one machine: set it to cores / workers, or they
# oversubscribe the cores and every run slows down.
PRUNEBOARD_TORCH_THREADS = env_int("PRUNEBOARD_TORCH_THREADS", 0)
if PRUNEBOARD_TORCH_THREADS < 0:
    raise ImproperlyConfigured("PRUNEBOARD_TORCH_THREADS must be 0 (torch's default) or more")

# 1: each worker times its queues' dense frontier networks when it starts, once per machine,
# torch version and latency threads (submissions.services.frontier_timing); 0: it does not, and
# the measured-speedup chart draws no frontier for this machine.
PRUNEBOARD_FRONTIER_LATENCY = env_bool("PRUNEBOARD_FRONTIER_LATENCY", True)

# 1: each web process imports the evaluator's strategy API (torch) when it starts, with gunicorn
# --preload once in its master, so no upload request waits for it (`manage.py serve` sets it).
PRUNEBOARD_WEB_PRELOAD = env_bool("PRUNEBOARD_WEB_PRELOAD", False)

# Where workers look for datasets and extra weights (the evaluator reads these too).
PRUNEBOARD_DATA_ROOT = env_str("PRUNEBOARD_DATA_ROOT", str(BASE_DIR / "data"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("PRUNEBOARD_LOG_LEVEL", "INFO")},
}

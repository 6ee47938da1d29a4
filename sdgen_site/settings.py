"""Django settings for sdgen site.

Everything a user may change comes from environment variables (see the README's settings
table); the readers in ``sdgen_site.env`` fail loudly on values they cannot use.
"""

from __future__ import annotations

import os
import secrets
import zoneinfo
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from sdgen_site.env import env_bool, env_choice, env_float, env_int, env_list, env_required, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent

# --- sdgen settings -------------------------------------------------------------------------

SDGEN_RESULTS_DIR = Path(env_str("SDGEN_RESULTS_DIR", "./results")).expanduser().resolve()
SDGEN_DATA_DIR = Path(env_str("SDGEN_DATA_DIR", "./var")).expanduser().resolve()
SDGEN_THUMBNAILS_DIR = (
    Path(env_str("SDGEN_THUMBNAILS_DIR", str(SDGEN_DATA_DIR / "thumbnails"))).expanduser().resolve()
)
# Where thumbnails are kept (STORAGES["thumbnails"] below): the thumbnail folder, or an
# S3-compatible bucket.
SDGEN_THUMBNAIL_STORAGE = env_choice("SDGEN_THUMBNAIL_STORAGE", "local", ("local", "s3"))
SDGEN_WATCH_MODE = env_choice("SDGEN_WATCH_MODE", "auto", ("auto", "native", "polling"))
SDGEN_POLL_INTERVAL = env_float("SDGEN_POLL_INTERVAL", 2.0, minimum=0.05)
# Fractional minutes are accepted so tests and demos can use a short stale window.
SDGEN_STALE_AFTER = env_float("SDGEN_STALE_AFTER", 30.0, minimum=0.001)
SDGEN_COMPLETE_THRESHOLD = env_float("SDGEN_COMPLETE_THRESHOLD", 95.0, minimum=0.0, maximum=100.0)
SDGEN_THUMBNAIL_HEIGHT = env_int("SDGEN_THUMBNAIL_HEIGHT", 240, minimum=16, maximum=4096)
SDGEN_THUMBNAIL_QUALITY = env_int("SDGEN_THUMBNAIL_QUALITY", 85, minimum=1, maximum=100)
SDGEN_THUMBNAIL_METHOD = env_int("SDGEN_THUMBNAIL_METHOD", 6, minimum=0, maximum=6)
SDGEN_THUMBNAIL_WORKERS = env_int("SDGEN_THUMBNAIL_WORKERS", os.cpu_count() or 1, minimum=1)
SDGEN_TIME_ZONE = env_str("SDGEN_TIME_ZONE", "UTC")
# The live stream (/api/stream): how often each server process reads the change feed, how many
# streams one process holds (the rest of its threads stay for the API: see manage.py serve),
# the quiet before a keep-alive comment, and how long one stream lasts before the browser
# reconnects (with its last id: nothing is lost).
SDGEN_STREAM_POLL = 0.25
SDGEN_STREAM_IDLE = 10.0  # seconds the feed is still read after the last stream closed
# Enough for one process to hold every stream of a busy team: the web server does not spread a burst
# of connections evenly over its workers, so one worker may be handed nearly all of them.
SDGEN_STREAMS_PER_PROCESS = env_int("SDGEN_STREAMS_PER_PROCESS", 64, minimum=1, maximum=1000)
SDGEN_STREAM_KEEPALIVE = 15.0
SDGEN_STREAM_LIFETIME = 300.0
try:
    zoneinfo.ZoneInfo(SDGEN_TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"SDGEN_TIME_ZONE={SDGEN_TIME_ZONE!r} is not a known time zone") from None



def _private_data_dir(path: Path) -> None:
    """The data dir holds the database (password hashes, API token hashes, sessions) and the
    secret key: only its owner may enter it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        path.chmod(0o700)


_private_data_dir(SDGEN_DATA_DIR)


def _secret_key(data_dir: Path) -> str:
    """The key from the environment, else one generated once and kept in the data dir."""
    from_env = env_str("DJANGO_SECRET_KEY", "")
    if from_env:
        return from_env
    key_file = data_dir / "secret_key"
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = key_file.read_text(encoding="ascii").strip()
        if not key:
            raise ImproperlyConfigured(f"{key_file} is empty; delete it to generate a new key") from None
        return key
    key = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


SECRET_KEY = _secret_key(SDGEN_DATA_DIR)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1"])

# --- Django ---------------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts.apps.AccountsConfig",
    "sessions.apps.SessionsConfig",
    "thumbnails.apps.ThumbnailsConfig",
    "gallery.apps.GalleryConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before the rest, so that it compresses their final answers (the API's JSON only).
    "sdgen_site.middleware.ApiJsonGZipMiddleware",
    "sdgen_site.middleware.RejectNulCharactersMiddleware",
    "sdgen_site.middleware.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "sdgen_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "sdgen_site" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "sdgen_site.wsgi.application"


def _database(url: str) -> dict[str, Any]:
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not usable: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # The watcher and the web server write from different processes: WAL lets readers
        # proceed during a write, IMMEDIATE transactions take the write lock up front (no
        # deadlocking lock upgrades) and the timeout waits for the lock instead of failing.
        # Connections are kept between requests, as for PostgreSQL: opening one (and its
        # PRAGMAs) cost more than the rest of a small answer, and a kept one holds no lock.
        config["CONN_MAX_AGE"] = 600
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    elif config["ENGINE"] == "django.db.backends.postgresql":
        # JIT compiles the short queries of a web page for longer than they take to run.
        config.setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
    return config


DATABASES = {
    "default": _database(env_str("DATABASE_URL", f"sqlite:///{SDGEN_DATA_DIR / 'sdgen.sqlite3'}")),
}


def _private_sqlite_files(database: dict) -> None:
    """SQLite gives its -wal and -shm files the database file's mode: make that 0600 before
    SQLite first opens it (and tighten files an earlier version left readable to others)."""
    if database["ENGINE"] != "django.db.backends.sqlite3" or str(database["NAME"]).startswith(":memory:"):
        return
    main = Path(database["NAME"])
    if not main.exists() and main.parent.is_dir():
        os.close(os.open(main, os.O_WRONLY | os.O_CREAT, 0o600))
    for path in (main, main.with_name(main.name + "-wal"), main.with_name(main.name + "-shm")):
        try:
            if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
                path.chmod(0o600)
        except FileNotFoundError:
            pass


_private_sqlite_files(DATABASES["default"])

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# In each web process's memory: the counts kept per library version (the default), and the
# JSON answers kept under their ETag (sessions.conditional), apart so that those larger entries
# never push the counts out.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "answers": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "answers",
                "OPTIONS": {"MAX_ENTRIES": 300}},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = SDGEN_DATA_DIR / "static"
# WhiteNoise serves the admin's and the API's static files from the app server itself.
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    # Only thumbnails.storage opens it. Failure records and locks stay in SDGEN_THUMBNAILS_DIR
    # whichever storage holds the thumbnails: they are this machine's own.
    "thumbnails": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                   "OPTIONS": {"location": SDGEN_THUMBNAILS_DIR, "base_url": None, "allow_overwrite": True}},
}
if SDGEN_THUMBNAIL_STORAGE == "s3":
    _endpoint = env_url("SDGEN_S3_ENDPOINT_URL", None)
    STORAGES["thumbnails"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_required("SDGEN_S3_BUCKET", because="when SDGEN_THUMBNAIL_STORAGE=s3"),
            "endpoint_url": _endpoint,
            # Unset: boto3 looks for credentials as usual (AWS_* variables, ~/.aws, an instance role).
            "access_key": env_str("SDGEN_S3_ACCESS_KEY", "") or None,
            "secret_key": env_str("SDGEN_S3_SECRET_KEY", "") or None,
            # A thumbnail made again replaces the old one under the same key.
            "file_overwrite": True,
            "default_acl": None,
            "querystring_auth": True,
            "signature_version": "s3v4",
            # MinIO and friends answer at host:port/bucket, not bucket.host.
            "addressing_style": "path" if _endpoint else None,
        },
    }
    if bool(STORAGES["thumbnails"]["OPTIONS"]["access_key"]) != bool(STORAGES["thumbnails"]["OPTIONS"]["secret_key"]):
        raise ImproperlyConfigured("SDGEN_S3_ACCESS_KEY and SDGEN_S3_SECRET_KEY go together: set both or neither")

# Logins (the admin's and the browsable API's) are throttled by django-axes: after
# AXES_FAILURE_LIMIT wrong passwords for one user name from one address, that pair waits
# AXES_COOLOFF_TIME. Other users, and the same user from elsewhere, are not held up.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

# API tokens are stored as SHA-512 hashes (django-rest-knox) and do not expire by themselves;
# `manage.py drf_create_token --reset USER` replaces them.
REST_KNOX = {"AUTH_HEADER_PREFIX": "Bearer", "TOKEN_TTL": None}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "sdgen_site.negotiation.JsonFirstNegotiation",
    # Documents every error answer of every operation from what its view declares.
    "DEFAULT_SCHEMA_CLASS": "sessions.schema.ApiAutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "sdgen site API",
    "DESCRIPTION": (
        "Generation sessions with their stats, images and user metadata. Authenticate with "
        "`Authorization: Bearer <token>` (`manage.py drf_create_token USER`) or an admin session."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Bodies are documented as JSON, what clients send (the browsable API's forms work too).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # Swagger UI served from this app's static files, not a CDN: /api/docs/ works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "SessionStatusEnum": "sessions.models.SessionStatus",
        "EventKindEnum": "sessions.models.EventKind",
        "EventSourceEnum": "sessions.models.EventSource",
        "UserRatingEnum": "sessions.models.UserRating",
    },
}

SDGEN_LOG_LEVEL = env_choice("SDGEN_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "loggers": {
        # Every 500 with its traceback (Django logs them here; 4xx are WARNING and stay quiet).
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "accounts": {"handlers": ["stderr"], "level": SDGEN_LOG_LEVEL, "propagate": False},
        "sessions": {"handlers": ["stderr"], "level": SDGEN_LOG_LEVEL, "propagate": False},
        "thumbnails": {"handlers": ["stderr"], "level": SDGEN_LOG_LEVEL, "propagate": False},
        "sdgen_site": {"handlers": ["stderr"], "level": SDGEN_LOG_LEVEL, "propagate": False},
    },
}

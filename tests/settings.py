"""Settings for the test suite: the project's settings with a throw-away data dir."""

import os
import tempfile

os.environ.setdefault("SDGEN_DATA_DIR", os.path.join(tempfile.gettempdir(), "sdgen-test-data"))
os.environ.setdefault("SDGEN_RESULTS_DIR", os.path.join(tempfile.gettempdir(), "sdgen-test-results"))
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")

from sdgen_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A file, not memory, so that the end-to-end tests' processes (the watcher, the web server)
# open the very database the test reads. pytest-django adds a suffix per xdist worker.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(os.environ["SDGEN_DATA_DIR"], "test.sqlite3")}  # noqa: F405

os.makedirs(STATIC_ROOT, exist_ok=True)  # noqa: F405  (WhiteNoise warns about a missing folder)

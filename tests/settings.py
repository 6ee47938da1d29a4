"""Settings for the test suite: the project's settings with a throw-away data dir.

Each test process gets its own data dir (and so its own SQLite test database), removed when
it exits: the tests never touch a user's ./var, and two test runs never share a database.
"""

import atexit
import os
import shutil
import tempfile

_DATA_DIR = tempfile.mkdtemp(prefix="sdgen-test-")
atexit.register(shutil.rmtree, _DATA_DIR, ignore_errors=True)
os.environ["SDGEN_DATA_DIR"] = _DATA_DIR
os.environ["SDGEN_RESULTS_DIR"] = os.path.join(_DATA_DIR, "no-results")  # tests pass their own
os.environ["DJANGO_SECRET_KEY"] = "test-only-secret-key"

from sdgen_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A file, not memory, so that the end-to-end tests' processes (the watcher, the web server)
# open the very database the test reads. pytest-django adds a suffix per xdist worker.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(_DATA_DIR, "test.sqlite3")}  # noqa: F405

os.makedirs(STATIC_ROOT, exist_ok=True)  # noqa: F405  (WhiteNoise warns about a missing folder)

# django-axes needs the request to authenticate, which the test client's login() does not pass;
# the tests of the login throttle turn it on themselves.
AXES_ENABLED = False

# The live stream's feed is read often, so that tests wait little for it.
SDGEN_STREAM_POLL = 0.05
SDGEN_STREAM_IDLE = 0.0  # and no longer than a stream is open

"""Settings for the test suite: the project's settings with a throw-away data dir."""

import os
import tempfile

os.environ.setdefault("SDGEN_DATA_DIR", os.path.join(tempfile.gettempdir(), "sdgen-test-data"))
os.environ.setdefault("SDGEN_RESULTS_DIR", os.path.join(tempfile.gettempdir(), "sdgen-test-results"))
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")

from sdgen_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

"""WSGI entry point (``granian --interface wsgi sdgen_site.wsgi:application``, as ``manage.py serve`` runs it)."""

import gc
import os

import django
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sdgen_site.settings")
django.setup(set_prefix=False)  # as django.core.wsgi.get_wsgi_application does

from sdgen_site.handlers import SiteHandler  # noqa: E402  (needs the settings)

application = SiteHandler()

# Import every view now, then move what exists (Django, DRF, the URL conf: hundreds of
# thousands of objects) out of the garbage collector's sight. Otherwise each full collection
# walks all of them in the middle of a request: tens of milliseconds, the slowest requests.
get_resolver().url_patterns  # noqa: B018  (the attribute access imports every view)
gc.freeze()

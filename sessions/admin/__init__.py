"""The Django admin: see the library, fix statuses by hand, annotate sessions.

Status changes go through ``sessions.lifecycle.transition_status`` (source ``admin``, the
user's name as performer); metadata through ``sessions.services.update_metadata``. Cached
sync data is read-only here: saving a session never writes it back.

- ``session``: the session admin (``SessionAdmin``), built from ``display`` (columns and
  read-only fields), ``actions``, ``filters`` and ``forms``.
- ``events``: the event log, read-only.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm

admin.site.site_header = "sdgen site administration"
admin.site.site_title = "sdgen site admin"
admin.site.index_title = "Library"
admin.site.site_url = "/"  # the gallery ("View gallery": sdgen_site/templates/admin/base_site.html)
# The admin's log-in page is also the gallery's, and the gallery is for every account, not only
# staff: log anyone active in. The admin's own pages still ask for staff (AdminSite.has_permission).
admin.site.login_form = AuthenticationForm

# Registered on import.
from sessions.admin.events import EventAdmin  # noqa: E402
from sessions.admin.session import SessionAdmin  # noqa: E402

__all__ = ["EventAdmin", "SessionAdmin"]

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Log-in and log-out pages for the browsable API (outside /api/: pages, not endpoints).
    path("auth/", include("rest_framework.urls")),
    path("api/", include("sessions.urls")),
    # The gallery's pages (/, /sessions/<name>/, /images/, /compare/), last: the rest go first.
    path("", include("gallery.urls")),
]

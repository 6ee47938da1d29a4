from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's, the API's).
    path("favicon.ico", RedirectView.as_view(url=static("gallery/favicon.svg"), permanent=True)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Log-in and log-out pages for the browsable API (outside /api/: pages, not endpoints).
    path("auth/", include("rest_framework.urls")),
    # An image file and its thumbnail (the thumbnails app), then the rest of the API.
    path("api/", include("thumbnails.urls")),
    path("api/", include("sessions.urls")),
    # The gallery's pages (/, /sessions/<name>/, /images/, /compare/), last: the rest go first.
    path("", include("gallery.urls")),
]

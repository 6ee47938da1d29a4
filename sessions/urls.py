from __future__ import annotations

from django.urls import path, re_path
from rest_framework.routers import DynamicRoute, SimpleRouter

from sessions.library_views import ChangeStreamView, HealthView, LibraryStatsView
from sessions.views import LibraryImageViewSet, SessionViewSet, api_not_found


class ContractRouter(SimpleRouter):
    """The contract's paths: list and detail end with a slash (sessions/, sessions/{name}/),
    extra actions do not (sessions/{name}/stats, sessions/recent/liked)."""

    routes = [
        DynamicRoute(url=route.url.replace("{trailing_slash}", ""), name=route.name, detail=route.detail,
                     initkwargs=route.initkwargs) if isinstance(route, DynamicRoute) else route
        for route in SimpleRouter.routes
    ]


router = ContractRouter()
router.register("sessions", SessionViewSet, basename="session")
router.register("images", LibraryImageViewSet, basename="image")

urlpatterns = [
    path("stats", LibraryStatsView.as_view(), name="library-stats"),
    path("health", HealthView.as_view(), name="health"),
    path("stream", ChangeStreamView.as_view(), name="change-stream"),
    *router.urls,
    re_path(r"^(?P<path>.*)$", api_not_found),  # last: anything else under /api/ is a JSON 404
]

from __future__ import annotations

from django.urls import path

from thumbnails.views import SessionImageFileView

urlpatterns = [
    path("sessions/<str:name>/images/<str:filename>", SessionImageFileView.as_view(), name="session-image-file"),
]

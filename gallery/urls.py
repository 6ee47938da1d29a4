from __future__ import annotations

from django.urls import path

from gallery import views

app_name = "gallery"

urlpatterns = [
    path("", views.session_grid, name="grid"),
    # Names hold dots and spaces: <str:> takes anything but a slash.
    path("sessions/<str:name>/", views.session_page, name="session"),
    path("images/", views.image_search, name="images"),
    path("compare/", views.compare_sessions, name="compare"),
]

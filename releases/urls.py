"""/releases/: the releases list, the new-release form with its preview, each release's live page,
its events (gap fill), pod logs and the action buttons."""
from django.urls import path

from . import views, views_create, views_logs

app_name = "releases"

urlpatterns = [
    path("", views.release_list, name="list"),
    path("new/", views_create.release_create, name="create"),
    path("<int:pk>/", views.release_detail, name="detail"),
    path("<int:pk>/events.json", views.release_events, name="events"),
    path("<int:pk>/logs.json", views_logs.release_logs, name="logs"),
    path("<int:pk>/<slug:action>/", views.release_action, name="action"),
]

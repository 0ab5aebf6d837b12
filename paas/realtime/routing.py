from django.urls import path, re_path

from .consumers import NotFoundConsumer, NotificationsConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationsConsumer.as_asgi()),
    re_path(r"", NotFoundConsumer.as_asgi()),  # last: every unknown path closes cleanly
]

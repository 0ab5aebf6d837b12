"""Test-only URLconf: the portal's, plus views that fail on purpose (the 500 answers)."""
from django.urls import path
from rest_framework.views import APIView

from paas.urls import handler400, handler403, handler404, handler500  # noqa: F401
from paas.urls import urlpatterns as portal


class Boom(APIView):
    def get(self, request):
        raise RuntimeError("internal detail that must not leak")


def plain_boom(request):
    raise RuntimeError("internal detail that must not leak")


urlpatterns = [
    path("api/v1/test-boom/", Boom.as_view()),
    path("api/test-plain-boom/", plain_boom),
    path("test-page-boom/", plain_boom),
    *portal,
]

"""The product's URLs plus a view that fails, to see the 500 page (tests/test_csp.py)."""
from django.urls import path

from paas.urls import urlpatterns as product


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", boom), *product]

"""Prometheus metrics of the federation engine (filled in with the engine)."""
from django.http import HttpResponse


def metrics_view(request):
    return HttpResponse("", content_type="text/plain; version=0.0.4")

"""API routes of this app, added to the project's /api/v1/ router by paas/api/urls.py."""


def register(router) -> None:
    """Register this app's viewsets on the shared DRF router."""

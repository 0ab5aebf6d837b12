"""REST API of tenants and what they own (mounted under /api/v1/ by paas.api.urls)."""

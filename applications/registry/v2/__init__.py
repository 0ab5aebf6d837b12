"""The OCI distribution API (v1.1) under /v2/: see urls.py for the endpoints."""

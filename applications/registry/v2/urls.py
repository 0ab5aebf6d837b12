"""/v2/ routes (included from paas.urls at the root, outside /api/ and its JSON error shape).

Names may contain slashes, so each pattern takes everything before its fixed tail; the views
check the name (NAME_INVALID) rather than the router, so a bad name gets the spec's error, not
an HTML 404. Upload routes come before blob routes ("blobs/uploads" would match a digest). The routes have
no names: nothing reverses them, and URL walkers (tests/test_not_allowed_pages.py) skip them.
"""
from django.urls import re_path

from . import blobs, manifests, views

urlpatterns = [
    re_path(r"^v2/$", views.root),
    re_path(r"^v2/token$", views.token),
    re_path(r"^v2/_catalog$", views.catalog),
    re_path(r"^v2/(?P<name>.+)/tags/list$", manifests.tags_list),
    re_path(r"^v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$", manifests.manifest),
    re_path(r"^v2/(?P<name>.+)/blobs/uploads/?$", blobs.upload_start),
    re_path(r"^v2/(?P<name>.+)/blobs/uploads/(?P<upload_id>[^/]+)$", blobs.upload),
    re_path(r"^v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$", blobs.blob),
    re_path(r"^v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$", manifests.referrers),
    re_path(r"^v2/(?P<rest>.*)$", views.unknown),
]

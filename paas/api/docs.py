"""The API documentation pages (Swagger UI, ReDoc) under the Content-Security-Policy.

drf-spectacular's packaged templates start the viewers from inline scripts and
styles, and ReDoc's bundle loads its "API docs by Redocly" logo from a CDN. Here
the pages use project templates without inline code (templates/api/), Swagger's
start-up script comes from the split view's `?script` URL, and ReDoc's bundle is
served with the CDN address replaced by a logo of ours, and taking the page's CSP
nonce for the <style> elements it creates from its own <script nonce> tag.
"""
import functools
import hashlib
import re
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import etag, require_GET
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
# Any absolute address on Redocly's CDN (today only the logo); a bundle upgrade that
# adds another one is caught by tests/test_csp.py::test_redoc_bundle_loads_nothing_from_a_cdn.
_CDN_URL = re.compile(rb"https://cdn\.redoc\.ly/[^\"'`\s)]*")
# webpack's slot for the nonce of the <style> elements the bundle creates (__webpack_nonce__),
# set as the bundle runs: some are made before Redoc.init could pass its `nonce` option.
_WEBPACK_NONCE = re.compile(rb"\b([A-Za-z_$][\w$]*)\.nc=void 0;")
NONCE_FROM_SCRIPT = rb"\1.nc=(document.currentScript||{}).nonce||void 0;"
# The map file stays next to the original bundle, not under this URL.
_SOURCE_MAP = re.compile(rb"\n//# sourceMappingURL=\S+\s*$")


class SwaggerView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"


class LocalRedocView(SpectacularRedocView):
    template_name = "api/redoc.html"

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response.data["redoc_standalone"] = reverse("api:redoc-bundle")
        # ReDoc's search index runs in a Web Worker that it builds from a blob: URL.
        response.csp_update = {"worker-src": ["blob:"]}
        return response


@functools.cache
def _redoc_bundle() -> tuple[bytes, str]:
    path = finders.find(REDOC_BUNDLE)
    if not path:
        raise Http404("ReDoc bundle missing")
    data = _CDN_URL.sub(static("img/api-docs-logo.svg").encode(), Path(path).read_bytes())
    data = _WEBPACK_NONCE.sub(NONCE_FROM_SCRIPT, data, count=1)
    data = _SOURCE_MAP.sub(b"\n", data)
    return data, hashlib.sha256(data).hexdigest()[:32]


@require_GET
@etag(lambda request: _redoc_bundle()[1])
def redoc_bundle(request):
    """ReDoc's standalone bundle with a local logo (a public library: no sign-in needed)."""
    response = HttpResponse(_redoc_bundle()[0], content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response

"""The browsable API (on with DEBUG only) under the Content-Security-Policy.

DRF's templates carry a few fixed `style="..."` attributes (float: right, a width, a
border) and one <style> block (Pygments' colours for code in view descriptions).
Rather than copying its templates, these pages' policy allows exactly those by hash
(`style-src-attr 'unsafe-hashes' 'sha256-…'`, and the block's hash in style-src); any
other style attribute or block, and every inline script, stays blocked.
"""
import base64
import hashlib
import re
from functools import cache
from pathlib import Path

import rest_framework
from rest_framework import renderers

_STYLE_ATTR = re.compile(r"""\sstyle="([^"{}]*)\"""")


def csp_hash(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


@cache
def drf_style_attribute_hashes() -> tuple[str, ...]:
    root = Path(rest_framework.__file__).parent / "templates" / "rest_framework"
    values = {value for path in root.rglob("*.html") for value in _STYLE_ATTR.findall(path.read_text())}
    return tuple(sorted(csp_hash(v) for v in values))


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def get_context(self, data, accepted_media_type, renderer_context):
        context = super().get_context(data, accepted_media_type, renderer_context)
        response = renderer_context.get("response")
        if context.get("code_style") and response is not None:
            response.csp_update = {"style-src": [csp_hash(context["code_style"])]}
        return context

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response.csp_style_attr_hashes = drf_style_attribute_hashes()
        return super().render(data, accepted_media_type, renderer_context)

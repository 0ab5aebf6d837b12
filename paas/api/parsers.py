"""The API's JSON parser: DRF's, bounded (see paas.safeinput for why).

- the body is read up to DATA_UPLOAD_MAX_MEMORY_SIZE (Django checks that limit only for
  request.body/request.POST, and DRF streams JSON past it): larger is RequestDataTooBig, a 400;
- nesting depth is checked on the text before json.loads recurses;
- the parsed data is walked once for NUL bytes, lone surrogates, huge or non-finite numbers.
"""
import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from paas import safeinput


def _refuse_constant(name):
    raise ValueError(_("%(name)s is not valid JSON") % {"name": name})


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise RequestDataTooBig(_("The request body is larger than %(n)s bytes.") % {"n": limit})
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise ParseError(_("JSON parse error - the body is not valid %(enc)s") % {"enc": encoding}) from None
        safeinput.check_json_depth(text)
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise ParseError(_("JSON parse error - %(e)s") % {"e": exc}) from None
        safeinput.check_data(data)
        return data

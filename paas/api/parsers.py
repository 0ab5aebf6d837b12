"""The API's JSON parser: DRF's, bounded (see paas.safeinput for why).

- the body is read up to DATA_UPLOAD_MAX_MEMORY_SIZE (Django checks that limit only for
  request.body/request.POST, and DRF streams JSON past it): larger is RequestDataTooBig, a 400;
- nesting deeper than MAX_DEPTH is refused: json.loads's own recursion guard stops
  absurd depths, then a linear scan of the (now known valid) text checks the limit;
- NUL bytes, lone surrogates, huge or non-finite numbers are refused naming their path.
  The walk that names the path runs only when the text holds a candidate (a \\u escape
  of NUL or a surrogate, a 19-digit number, a 3-digit exponent).
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


def load_json(text: str):
    """json.loads, bounded: DomainError naming the path of a refused value."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        # The C scanner counts its recursion (Py_EnterRecursiveCall): 100,000 levels stop
        # at the interpreter's limit within milliseconds, as a RecursionError, not a crash.
        safeinput.refuse_deep_json(text)
    # On text json.loads accepted (strings well formed) the depth scan is linear; on
    # arbitrary text its string pattern could backtrack quadratically.
    safeinput.check_json_depth(text)
    if safeinput.json_needs_walk(text):
        safeinput.check_data(data, max_nodes=None)  # JSON has no aliases: the size limit bounds it
    return data


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
        try:
            return load_json(text)
        except ValueError as exc:
            raise ParseError(_("JSON parse error - %(e)s") % {"e": exc}) from None

from base64 import b64decode
from urllib import parse

from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import Cursor, CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class AuditCursorPagination(CursorPagination):
    """Stable under concurrent inserts and O(1) per page however deep one goes."""

    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def decode_cursor(self, request):
        """Only cursors this class encoded: a garbage one used to fall back silently to the
        first page (a client paging through the trail would loop or miss rows), or reach
        the query as a non-numeric id. Now it is a 400 naming `cursor`."""
        encoded = request.query_params.get(self.cursor_query_param)
        if not encoded:
            return None
        try:
            tokens = parse.parse_qs(b64decode(encoded.encode("ascii"), validate=True).decode("ascii"),
                                    keep_blank_values=True, strict_parsing=True)
            if not tokens or set(tokens) - {"o", "r", "p"} or any(len(v) != 1 for v in tokens.values()):
                raise ValueError
            offset = int(tokens.get("o", ["0"])[0])
            reverse = tokens.get("r", ["0"])[0]
            position = tokens.get("p", [None])[0]
            if not 0 <= offset <= self.offset_cutoff or reverse not in ("0", "1"):
                raise ValueError
            if position is not None:
                int(position)  # ordered by id: a position is an event id
        except (TypeError, ValueError, UnicodeError):
            raise ValidationError({self.cursor_query_param: [_("This cursor is not valid; use the next/previous "
                                                               "links of a page.")]}) from None
        return Cursor(offset=offset, reverse=reverse == "1", position=position)

"""Audit trail pages: browse with filters, one event's detail, streamed export."""
import datetime
import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from paas.actors import Actor

from . import export
from .access import auditable_tenants, ensure_may_audit, has_global_audit
from .chain import compute_hash
from .filters import FILTER_PARAMS, AuditEventFilter, active_filters
from .models import AuditEvent
from .selectors import audit_events_visible_to

PAGE_SIZE = 50
_MISSING = object()


def _int_param(request, name):
    try:
        value = int(request.GET.get(name, ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _filter_query(request) -> str:
    """The current filters as a query string (for navigation and export links)."""
    return urlencode([(k, v) for k in FILTER_PARAMS for v in request.GET.getlist(k) if v])


def _keyset_page(queryset, *, before=None, after=None):
    """One page by id keyset: `before` = older than that id, `after` = newer than it."""
    if after is not None:
        rows = list(queryset.filter(id__gt=after).order_by("id")[: PAGE_SIZE + 1])
        has_newer = len(rows) > PAGE_SIZE
        events = rows[:PAGE_SIZE][::-1]
        has_older = bool(events) and queryset.filter(id__lt=events[-1].id).exists()
        return events, has_newer, has_older
    page = queryset.filter(id__lt=before) if before is not None else queryset
    rows = list(page.order_by("-id")[: PAGE_SIZE + 1])
    events = rows[:PAGE_SIZE]
    has_older = len(rows) > PAGE_SIZE
    has_newer = bool(events) and before is not None and queryset.filter(id__gt=events[0].id).exists()
    return events, has_newer, has_older


def _form_values(request, filterset) -> dict:
    values = {name: request.GET.get(name, "") for name in FILTER_PARAMS}
    if filterset.is_valid():
        # datetime-local inputs only take YYYY-MM-DDTHH:MM[:SS], in UTC here.
        for name in ("since", "until"):
            value = filterset.form.cleaned_data.get(name)
            if value is not None:
                values[name] = value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return values


def _filter_context(request, actor, filterset):
    return {
        "filterset": filterset,
        "values": _form_values(request, filterset),
        "tenants": auditable_tenants(actor),
        "show_all_tenants": has_global_audit(actor),
        "outcomes": AuditEvent.Outcome.choices,
        "filter_query": _filter_query(request),
    }


@login_required
@require_GET
def audit_list(request):
    actor = Actor.from_request(request)
    ensure_may_audit(actor)
    filterset = AuditEventFilter(request.GET, queryset=audit_events_visible_to(actor))
    context = _filter_context(request, actor, filterset)
    events, has_newer, has_older = [], False, False
    status = 200
    if filterset.is_valid():
        events, has_newer, has_older = _keyset_page(
            filterset.qs, before=_int_param(request, "before"), after=_int_param(request, "after"))
    else:
        status = 400
    context.update(events=events, has_newer=has_newer, has_older=has_older,
                   newer_id=events[0].id if events else None, older_id=events[-1].id if events else None)
    return render(request, "audit/list.html", context, status=status)


def _display(value):
    if value is _MISSING:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _diff_rows(changes: dict) -> list[dict]:
    before = changes.get("before") if isinstance(changes.get("before"), dict) else {}
    after = changes.get("after") if isinstance(changes.get("after"), dict) else {}
    rows = []
    for key in list(before) + [k for k in after if k not in before]:
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        rows.append({"field": key, "before": _display(old), "after": _display(new), "changed": old != new})
    return rows


@login_required
@require_GET
def audit_detail(request, pk: int):
    actor = Actor.from_request(request)
    ensure_may_audit(actor)
    try:
        event = audit_events_visible_to(actor).get(pk=pk)
    except AuditEvent.DoesNotExist:
        raise Http404(_("No such audit event.")) from None
    changes = event.changes if isinstance(event.changes, dict) else {}
    extra = {k: v for k, v in changes.items() if k not in ("before", "after")}
    return render(request, "audit/detail.html", {
        "event": event,
        "diff_rows": _diff_rows(changes),
        "has_before": "before" in changes,
        "has_after": "after" in changes,
        "extra_changes": json.dumps(extra, indent=2, ensure_ascii=False, sort_keys=True) if extra else "",
        "hash_matches": compute_hash(event.prev_hash, event) == event.hash,
    })


@login_required
@require_GET
def audit_export(request):
    actor = Actor.from_request(request)
    ensure_may_audit(actor)
    fmt = request.GET.get("format", "csv").lower()
    if fmt not in export.FORMATS:
        return HttpResponseBadRequest(_("Unknown export format; choose csv or json."))
    filterset = AuditEventFilter(request.GET, queryset=audit_events_visible_to(actor))
    if not filterset.is_valid():
        context = _filter_context(request, actor, filterset)
        context.update(events=[], has_newer=False, has_older=False)
        return render(request, "audit/list.html", context, status=400)
    filters = active_filters(filterset)
    tenant = auditable_tenants(actor).filter(slug=filters["tenant"]).first() if "tenant" in filters else None
    export.record_export(actor=actor, fmt=fmt, filters=filters, tenant=tenant)
    return export.streaming_response(request, filterset.qs, fmt)

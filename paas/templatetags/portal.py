"""Template helpers of the portal: navigation, badges and human-readable units."""
from decimal import Decimal

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from tenants.models import ApiToken, Environment
from tenants.roles import Role

register = template.Library()

# Sections whose real pages arrive with later modules: link to them when their
# URL exists, else to the "coming soon" page (audit: its fixed path).
_SECTION_URLS = {
    "tenants": "tenants:list",
    "clusters": "clusters:list",
    "applications": "applications:list",
    "releases": "releases:list",
    "audit": "audit:list",
}


@register.simple_tag
def section_url(section: str) -> str:
    try:
        return reverse(_SECTION_URLS[section])
    except NoReverseMatch:
        if section == "audit":
            return "/audit/"
        return reverse("coming-soon", args=[section])


@register.simple_tag(takes_context=True)
def nav_active(context, url: str, exact: bool = False, unless: str = "") -> str:
    """"active" when the page is under `url`, except under `unless` (a section with its own entry)."""
    request = context.get("request")
    if request is None:
        return ""
    path = request.path
    hit = path == url if exact or url == "/" else path.startswith(url)
    if hit and unless and path.startswith(unless):
        return ""
    return "active" if hit else ""


def _number(value) -> str:
    text = f"{Decimal(value):.2f}".rstrip("0").rstrip(".")
    return text or "0"


@register.filter
def cores(millicores) -> str:
    """4000 -> '4 cores', 500 -> '0.5 cores'."""
    if millicores in (None, ""):
        return ""
    value = Decimal(int(millicores)) / 1000
    return _("%(n)s cores") % {"n": _number(value)} if value != 1 else _("1 core")


@register.filter
def mib_human(mib) -> str:
    """8192 -> '8 GiB', 512 -> '512 MiB', 2097152 -> '2 TiB'."""
    if mib in (None, ""):
        return ""
    mib = int(mib)
    if mib >= 1024 * 1024:
        return f"{_number(Decimal(mib) / (1024 * 1024))} TiB"
    if mib >= 1024:
        return f"{_number(Decimal(mib) / 1024)} GiB"
    return f"{mib} MiB"


_ROLE_COLOURS = {
    Role.OWNER: "primary", Role.ADMIN: "info", Role.DEVELOPER: "success",
    Role.APPROVER: "warning", Role.VIEWER: "secondary", Role.AUDITOR: "dark",
}
_ROLE_ICONS = {
    Role.OWNER: "star-fill", Role.ADMIN: "shield-lock", Role.DEVELOPER: "code-slash",
    Role.APPROVER: "check2-circle", Role.VIEWER: "eye", Role.AUDITOR: "journal-check",
}
_KIND_COLOURS = {
    Environment.Kind.DEV: "info", Environment.Kind.TEST: "success",
    Environment.Kind.PRE: "warning", Environment.Kind.PROD: "danger",
}
_STATUS_COLOURS = {"active": "success", "expired": "warning", "revoked": "secondary", "archived": "secondary",
                   "success": "success", "denied": "danger", "failed": "warning"}


def _badge(colour: str, label, icon: str = ""):
    icon_html = format_html('<i class="bi bi-{} me-1" aria-hidden="true"></i>', icon) if icon else ""
    return format_html(
        '<span class="badge rounded-pill bg-{0}-subtle text-{0}-emphasis border border-{0}-subtle">{1}{2}</span>',
        colour, icon_html, label,
    )


@register.simple_tag
def role_badge(role):
    if not role:
        return _badge("light", _("Operator"), "gear")
    return _badge(_ROLE_COLOURS.get(role, "secondary"), Role(role).label, _ROLE_ICONS.get(role, ""))


@register.simple_tag
def kind_badge(kind):
    return _badge(_KIND_COLOURS.get(kind, "secondary"), Environment.Kind(kind).label)


@register.simple_tag
def scope_badge(scope):
    if scope == ApiToken.Scope.WRITE:
        return _badge("warning", ApiToken.Scope(scope).label, "pencil-square")
    return _badge("secondary", ApiToken.Scope(scope).label, "eye")


@register.simple_tag
def status_badge(status: str):
    labels = {"active": _("Active"), "expired": _("Expired"), "revoked": _("Revoked"),
              "archived": _("Archived"), "success": _("Success"), "denied": _("Denied"), "failed": _("Failed")}
    return _badge(_STATUS_COLOURS.get(status, "secondary"), labels.get(status, status))


@register.simple_tag
def tenant_status_badge(tenant):
    return status_badge("active" if tenant.is_active else "archived")


@register.filter
def initials(user) -> str:
    full = (user.get_full_name() or "").split()
    if len(full) >= 2:
        return (full[0][0] + full[-1][0]).upper()
    name = user.get_username()
    return name[:2].upper()


@register.filter
def add_class(field, css: str):
    """Render a bound field's widget with extra classes (and is-invalid on errors)."""
    classes = [field.field.widget.attrs.get("class", ""), css]
    if field.errors:
        classes.append("is-invalid")
    attrs = {"class": " ".join(c for c in classes if c)}
    if field.errors:
        attrs["aria-describedby"] = f"{field.auto_id}_error"
    elif field.help_text:
        attrs["aria-describedby"] = f"{field.auto_id}_help"
    return field.as_widget(attrs=attrs)


@register.filter
def widget_type(field) -> str:
    return field.field.widget.__class__.__name__.lower()


@register.simple_tag
def product_name() -> str:
    return settings.PAAS_PRODUCT_NAME

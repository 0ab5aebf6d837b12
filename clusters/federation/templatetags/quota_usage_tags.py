"""Quota usage and a change's quota impact in templates (quota pages, the environment page,
the federated-resource form and preview), so those views need no change of their own.
The page's view has already decided the user may see the environment."""
from django import template

from paas.errors import DomainError

from .. import quota_usage
from ..forms import FederatedResourceForm
from ..services import validate_input

register = template.Library()


@register.simple_tag
def environment_quota_usage(environment):
    """{"clusters": [ClusterUsage], "platform": [Bar]} of one environment."""
    return quota_usage.usage(environment)


@register.simple_tag
def quota_chart_data(environment, usage):
    """The chart's data (json_script'ed): percent of each limit committed, per cluster."""
    names = quota_usage.labels()
    return {"categories": [names[n] for n in quota_usage.CLUSTER_LIMITS], "max": 100, "unit": "%",
            "series": [{"name": c.cluster, "values": [b.percent for b in c.bars]} for c in usage["clusters"]]}


def _proposed(form):
    """The cleaned data of a bound, valid form; None otherwise."""
    if form is None or not form.is_bound or not form.is_valid():
        return None
    return form.cleaned_data


@register.simple_tag(takes_context=True)
def quota_impact_for(context):
    """The impact of what the page shows: the preview's entries, or the form's content."""
    resource, environment = context.get("resource"), context.get("environment")
    if environment is None:
        return None
    entries = context.get("entries")
    form = context.get("form")
    if entries is not None and resource is not None:  # the preview page: entries carry the plan
        request = context.get("request")
        if form is None and request is not None and request.method == "POST":
            form = FederatedResourceForm.for_resource(resource, request.POST)
        proposed = _proposed(form)
        return quota_usage.impact_of_preview(resource=resource, entries=entries,
                                             template=proposed["template"] if proposed else None)
    return impact_of_form(form, environment=environment, resource=resource)


def impact_of_form(form, *, environment, resource=None):
    proposed = _proposed(form)
    if proposed is None and resource is None:
        return None
    proposed = proposed or {}
    template = proposed.get("template", resource.template if resource else None)
    placement = proposed.get("placement", resource.placement if resource else {})
    overrides = proposed.get("overrides", resource.overrides if resource else [])
    ftype = resource.ftype if resource is not None else proposed.get("ftype")
    name = resource.name if resource is not None else (
        proposed.get("name") or ((template or {}).get("metadata") or {}).get("name"))
    if ftype is None or not name:
        return None
    try:
        template, _p, _o, plan, _topology = validate_input(
            ftype=ftype, environment=environment, name=name, template=template, placement=placement,
            overrides=overrides)
    except DomainError:
        return None  # the form shows what is wrong; no figures for an invalid change
    return quota_usage.impact(environment=environment, template=template, targets=plan.targets, resource=resource)


@register.filter
def quota_amount(value, name):
    """A figure of limit `name` in its unit: '0.5 cores', '2 GiB', '12'."""
    from paas.templatetags.portal import cores, mib_human

    if value is None:
        return "—"
    if name == "cpu_millicores":
        return cores(value)
    if name in ("memory_mib", "ephemeral_storage_mib"):
        return mib_human(value)
    return str(value)

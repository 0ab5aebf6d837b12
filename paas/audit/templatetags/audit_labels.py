"""{{ event.action|action_label }}: an audit action in words (paas.audit.labels)."""
from django import template

from paas.audit.labels import action_label as label_of

register = template.Library()


@register.filter
def action_label(code: str) -> str:
    return label_of(code)

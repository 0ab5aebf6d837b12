"""{% portal_menu as menu %}: the sidebar's visibility flags (paas.web.menu)."""
from django import template

from paas.actors import Actor
from paas.web.menu import menu_for

register = template.Library()


@register.simple_tag(takes_context=True)
def portal_menu(context):
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return None
    return menu_for(Actor.from_request(request), context.get("current_tenant"))

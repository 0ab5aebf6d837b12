"""The operators' dashboard (/ops/): topology by health, capacity per cluster, failed
propagations and unhealthy workloads across tenants. Platform permission only (a
tenant member gets 403; API tokens never)."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.permissions import NotPermitted, can_platform

from . import ops_dashboard


@login_required
def ops(request):
    if not can_platform(Actor.from_request(request), ops_dashboard.PERMISSION):
        raise NotPermitted(_("Only platform operators may open the operations dashboard."))
    return render(request, "web/ops.html", ops_dashboard.dashboard())

"""API views that belong to no app: who am I (the documentation pages are in docs.py)."""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.models import ApiToken
from tenants.roles import Role
from tenants.selectors import memberships_visible_to

from .base import ActorMixin


class MeMembershipSerializer(serializers.Serializer):
    tenant = serializers.CharField(source="tenant.slug")
    name = serializers.CharField(source="tenant.name")
    role = serializers.ChoiceField(choices=Role.choices)


class MeTokenSerializer(serializers.Serializer):
    tenant = serializers.CharField(source="tenant.slug")
    name = serializers.CharField()
    prefix = serializers.CharField()
    scope = serializers.ChoiceField(choices=ApiToken.Scope.choices)
    expires_at = serializers.DateTimeField(allow_null=True)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    is_staff = serializers.BooleanField()
    memberships = MeMembershipSerializer(many=True)
    token = MeTokenSerializer(allow_null=True, help_text=_("The API token of this request, if any."))


@extend_schema(tags=["me"])
class MeView(ActorMixin, APIView):
    """The calling user, their memberships and, with token authentication, the token in use."""

    def get_serializer_context(self):
        return {"request": self.request, "view": self}

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        # Through the selector, so a token only reveals memberships in its own tenant.
        memberships = memberships_visible_to(self.actor).filter(user=user).order_by("tenant__name")
        data = {"id": user.pk, "username": user.get_username(), "email": user.email, "is_staff": user.is_staff,
                "memberships": memberships, "token": self.actor.token}
        return Response(self.render(MeSerializer, data))

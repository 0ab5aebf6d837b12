"""The search page (/search/?q=, the fallback of the Ctrl-K box) and its API (/api/v1/search/?q=)."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from paas.actors import Actor
from paas.api.base import ActorMixin

from .search import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_LENGTH, BadQuery, search

PAGE_LIMIT = MAX_LIMIT


@login_required
@require_GET
def search_page(request):
    raw = request.GET.get("q", "")
    context = {"query": " ".join(raw.split())[:MAX_QUERY_LENGTH], "groups": [], "error": "",
               "max_length": MAX_QUERY_LENGTH}
    status = 200
    if raw.strip():
        try:
            context["groups"] = search(Actor.from_request(request), raw, limit=PAGE_LIMIT)
        except BadQuery as exc:
            context["error"], status = str(exc), 400
    return render(request, "web/search.html", context, status=status)


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=MAX_QUERY_LENGTH, help_text=_("Text to find in names and slugs."))
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT,
                                     help_text=_("Most hits per kind."))


class SearchHitSerializer(serializers.Serializer):
    title = serializers.CharField()
    subtitle = serializers.CharField()
    url = serializers.CharField()


class SearchGroupSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    icon = serializers.CharField()
    hits = SearchHitSerializer(many=True)


class SearchResultSerializer(serializers.Serializer):
    query = serializers.CharField()
    groups = SearchGroupSerializer(many=True)


@extend_schema(tags=["search"])
class SearchView(ActorMixin, APIView):
    """Tenants, environments, federated resources and clusters the caller may see, by name or slug."""

    def get_serializer_context(self):
        return {"request": self.request, "view": self}

    @extend_schema(parameters=[SearchQuerySerializer], responses=SearchResultSerializer)
    def get(self, request):
        params = SearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        try:
            groups = search(self.actor, params.validated_data["q"], limit=params.validated_data["limit"])
        except BadQuery as exc:
            raise serializers.ValidationError({"q": [str(exc)]}) from None
        return Response(self.render(SearchResultSerializer,
                                    {"query": " ".join(params.validated_data["q"].split()), "groups": groups}))

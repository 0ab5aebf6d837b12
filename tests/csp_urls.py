"""The product's URLs plus two test views (tests/test_csp.py): one that fails, to see
the 500 page, and one rendered by the browsable API, which is on with DEBUG only."""
from django.contrib.auth.models import Group
from django.urls import path
from rest_framework import filters, generics, serializers
from rest_framework.permissions import AllowAny

from paas.api.renderers import BrowsableAPIRenderer
from paas.urls import urlpatterns as product


def boom(request):
    raise RuntimeError("a bug")


class GroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = Group
        fields = ["id", "name"]


class Browsable(generics.ListCreateAPIView):
    """A list with ordering and a create form: the browsable API's filter button and forms."""
    renderer_classes = [BrowsableAPIRenderer]
    permission_classes = [AllowAny]
    authentication_classes = []
    queryset = Group.objects.order_by("pk")
    serializer_class = GroupSerializer
    filter_backends = [filters.OrderingFilter, filters.SearchFilter]
    ordering_fields = ["name"]
    search_fields = ["name"]


urlpatterns = [path("boom/", boom), path("browsable/", Browsable.as_view()), *product]

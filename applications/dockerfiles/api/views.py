"""Dockerfile API: versions of an application (list, save or generate, retrieve, diff), lint
without saving, and the stack templates.

Nothing here decides who may do what: services authorize (a denial is a 403 with an audit
record), selectors scope (another tenant's application is a 404).

Who may lint: any authenticated caller, a read-only token included. Linting saves nothing
and shows only the allowed base images, which every signed-in user may read anyway.
"""
from functools import cached_property

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from applications.models import DockerfileVersion
from paas.api.base import ActorMixin

from .. import diff, lint, selectors, services, templates
from ..templates import TemplateFormError
from . import serializers as s

APP_PREFIX = r"applications/(?P<app_id>[^/]+)/dockerfiles"


def _form_errors(exc: TemplateFormError):
    """Template field errors under `form` (or `stack`), as a 400 naming each field."""
    if set(exc.errors) == {"stack"}:
        return serializers.ValidationError({"stack": exc.errors["stack"]})
    return serializers.ValidationError({"form": exc.errors})


@extend_schema(tags=["dockerfiles"], parameters=[
    OpenApiParameter("app_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The application's id.")])
class DockerfileVersionViewSet(ActorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                               viewsets.GenericViewSet):
    """Saved versions of an application's Dockerfile, newest first."""

    queryset = DockerfileVersion.objects.none()
    serializer_class = s.DockerfileVersionSerializer
    lookup_field = "number"
    lookup_value_regex = "[^/]+"  # a malformed number is the selector's JSON 404
    filter_backends = []
    ordering_fields = []

    @cached_property
    def application(self):
        return selectors.application_get(self.actor, self.kwargs["app_id"])

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.application  # noqa: B018 - resolve (or 404) before anything else, whatever the method

    def get_queryset(self):
        return selectors.versions_of(self.application)

    def get_object(self):
        return selectors.version_get(self.application, self.kwargs["number"])

    def get_serializer_class(self):
        return s.DockerfileVersionDetailSerializer if self.action == "retrieve" else s.DockerfileVersionSerializer

    @extend_schema(request=s.DockerfileSaveSerializer, responses={200: s.DockerfileVersionDetailSerializer,
                                                                  201: s.DockerfileVersionDetailSerializer})
    def create(self, request, *args, **kwargs):
        """Save a version: `content` (linted; lint errors are kept and block builds; a text that does not
        parse is a 400), or `stack` + `form` to generate it from a template. 200 with the latest version
        when the text is unchanged (no new version), 201 with the new one otherwise."""
        data = self.validated(s.DockerfileSaveSerializer)
        before = selectors.latest_version(self.application)
        try:
            if "content" in data:
                version = services.dockerfile_save(
                    actor=self.actor, application=self.application, content=data["content"],
                    comment=data.get("comment", ""), stack=data.get("stack", ""), form=data.get("form"))
            else:
                version = services.dockerfile_generate(
                    actor=self.actor, application=self.application, stack=data["stack"], form=data.get("form", {}),
                    comment=data.get("comment", ""))
        except TemplateFormError as exc:
            raise _form_errors(exc) from None
        created = before is None or version.pk != before.pk
        return Response(self.render(s.DockerfileVersionDetailSerializer, version),
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(parameters=[s.DiffQuerySerializer], responses=s.DiffSerializer)
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def diff(self, request, *args, **kwargs):
        """Two versions compared: side-by-side rows (line numbers on both sides) and a unified diff."""
        query = s.DiffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        older = selectors.version_get(self.application, query.validated_data["from"])
        newer = selectors.version_get(self.application, query.validated_data["to"])
        rows = diff.side_by_side(older.content, newer.content)
        return Response({"from": older.number, "to": newer.number, "stats": diff.stats(rows),
                         "unified": diff.unified(older.content, newer.content, from_label=f"v{older.number}",
                                                 to_label=f"v{newer.number}"),
                         "rows": [r.as_dict() for r in rows]})


@extend_schema(tags=["dockerfiles"])
class DockerfileLintView(ActorMixin, APIView):
    """Lint a Dockerfile without saving it (any authenticated caller; read-only tokens too)."""

    def get_serializer_context(self):
        return {"request": self.request, "view": self}

    @extend_schema(request=s.LintRequestSerializer, responses=s.LintResultSerializer)
    def post(self, request):
        data = self.validated(s.LintRequestSerializer)
        findings = lint.lint(data["content"], environment_kind=data["environment_kind"])
        result = lint_result(findings)
        return Response(self.render(s.LintResultSerializer, result))


def lint_result(findings) -> dict:
    state = lint.status_of(findings)
    return {"lint_status": state, "buildable": state != "errors", "counts": lint.counts_of(findings),
            "findings": [f.as_dict() for f in findings]}


@extend_schema(tags=["dockerfiles"])
class DockerfileTemplatesView(ActorMixin, APIView):
    """The stack templates: their form fields with defaults, and each stack's allowed base images."""

    def get_serializer_context(self):
        return {"request": self.request, "view": self}

    @extend_schema(responses=s.StackTemplateSerializer(many=True))
    def get(self, request):
        images = selectors.base_images_visible_to(self.actor).filter(enabled=True).order_by("name", "tag")
        result = []
        for stack in templates.STACKS:
            mine = [b for b in images if b.stack == stack]
            result.append({"stack": stack, "label": str(templates.SPECS[stack].label),
                           "fields": templates.fields_for(stack, [b.reference for b in mine]),
                           "base_images": [{"reference": b.reference, "name": b.name, "tag": b.tag,
                                            "description": b.description, "digest": b.digest,
                                            "allowed_in_prod": b.allowed_in_prod} for b in mine]})
        return Response(s.StackTemplateSerializer(result, many=True).data)


def register(router) -> None:
    """Register the viewset on the shared DRF router (paas/api/urls.py)."""
    router.register(APP_PREFIX, DockerfileVersionViewSet, basename="dockerfile")


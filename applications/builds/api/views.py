"""Builds API under /api/v1/applications/{app_id}/: artifacts (upload, list), builds (list,
start, retrieve, cancel) and a build's log (`?after=N&limit=`).

The application is resolved through a selector before anything else, so an application
the caller cannot see is a 404 whatever the method or body; writes go through services,
which authorize (a denial is a 403 with an audit record; read-only tokens cannot write).

The artifact upload is the one endpoint that reads a raw `application/octet-stream` body:
the service reads it in chunks from the request stream after the permission check, hashes
it on the way to disk and never holds it in memory.
"""
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from applications import selectors as application_selectors
from applications.models import DockerfileVersion
from paas.api.base import ActorMixin
from paas.api.schema import ErrorSerializer
from paas.errors import DomainError

from .. import selectors, services
from ..models import Artifact, Build
from . import serializers as s

CHECKSUM_HEADER = OpenApiParameter(
    "X-Checksum-Sha256", str, location=OpenApiParameter.HEADER, required=False,
    description="Expected SHA-256 of the body (64 hex digits); a mismatch is a 400 \"corrupt upload\".")
TOO_LARGE = OpenApiResponse(ErrorSerializer, description="The body is larger than BUILD_ARTIFACT_MAX_BYTES.")


class RawUploadParser(BaseParser):
    """Declares application/octet-stream for the upload; the view reads the stream itself."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


class ApplicationChildViewSet(ActorMixin, viewsets.GenericViewSet):
    """Base of routes under applications/{app_id}/: the application is looked up first."""

    application = None
    lookup_value_regex = "[^/]+"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.application = application_selectors.application_get(self.actor, self.kwargs["app_id"])


@extend_schema(tags=["builds"], parameters=[OpenApiParameter("app_id", int, location=OpenApiParameter.PATH)])
class ArtifactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApplicationChildViewSet):
    """Uploaded artifacts (jar, binaries, tarballs) of an application, newest first."""

    queryset = Artifact.objects.none()
    serializer_class = s.ArtifactSerializer
    ordering_fields = ["created_at", "filename", "size"]
    filterset_fields = ["sha256", "filename"]

    def get_queryset(self):
        return selectors.artifacts_visible_to(self.actor).filter(application=self.application).order_by("-created_at")

    def get_object(self):
        return selectors.artifact_get(self.actor, self.application, self.kwargs["pk"])

    @extend_schema(
        parameters=[s.UploadQuerySerializer, CHECKSUM_HEADER],
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={201: s.ArtifactSerializer,
                   200: OpenApiResponse(s.ArtifactSerializer,
                                        description="These bytes under this name were already uploaded."),
                   413: TOO_LARGE})
    def upload(self, request, *args, **kwargs):
        """Upload an artifact as the raw request body (Content-Type: application/octet-stream), streamed
        to disk with its SHA-256 computed on the way. An empty body, a checksum mismatch ("corrupt
        upload") or a body over the size limit (413) is refused naming `file`."""
        media_type = (request.content_type or "").split(";")[0].strip().lower()
        # No body at all says nothing about its type: it is answered as an empty file.
        if media_type != RawUploadParser.media_type and (media_type or _content_length(request)):
            raise exceptions.UnsupportedMediaType(media_type or "none")
        query = s.UploadQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        checksum = request.headers.get("X-Checksum-Sha256") or query.validated_data.get("checksum", "")
        artifact, created = services.artifact_upload(
            actor=self.actor, application=self.application, filename=query.validated_data["filename"],
            read=request._request.read, content_length=_content_length(request), expected_sha256=checksum)
        return Response(self.render(s.ArtifactSerializer, artifact),
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def get_parsers(self):
        if getattr(self, "action", None) == "upload" or (self.request is not None and self.request.method == "PUT"):
            return [RawUploadParser()]
        return super().get_parsers()


def _content_length(request) -> int | None:
    try:
        value = int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    return value if value >= 0 else None


@extend_schema(tags=["builds"], parameters=[OpenApiParameter("app_id", int, location=OpenApiParameter.PATH),
                                            OpenApiParameter("number", int, location=OpenApiParameter.PATH)])
class BuildViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApplicationChildViewSet):
    """Builds of an application (newest first): inputs, state, step, image digest and size."""

    queryset = Build.objects.none()
    serializer_class = s.BuildSerializer
    lookup_field = "number"
    ordering_fields = ["number", "created_at"]
    filterset_fields = ["state", "tag"]

    def get_queryset(self):
        return selectors.builds_visible_to(self.actor).filter(application=self.application).order_by("-number")

    def get_object(self):
        return selectors.build_get(self.actor, self.application, self.kwargs["number"])

    def get_serializer_class(self):
        return s.BuildDetailSerializer if self.action != "list" else s.BuildSerializer

    @extend_schema(request=s.BuildCreateSerializer, responses={201: s.BuildDetailSerializer})
    def create(self, request, *args, **kwargs):
        """Start a build of a Dockerfile version with an artifact; it is queued and runs on a worker.
        A Dockerfile version with lint errors is refused (400 listing the lines)."""
        data = self.validated(s.BuildCreateSerializer)
        dockerfile = DockerfileVersion.objects.filter(application=self.application, number=data["dockerfile"]).first()
        if dockerfile is None:
            raise DomainError(_("dockerfile: no such Dockerfile version of this application."), field="dockerfile")
        artifact = None
        if data.get("artifact") is not None:
            artifact = selectors.artifacts_visible_to(self.actor).filter(
                application=self.application, pk=data["artifact"]).first()
            if artifact is None:
                raise DomainError(_("artifact: no such artifact of this application."), field="artifact")
        build = services.build_start(actor=self.actor, application=self.application, dockerfile=dockerfile,
                                     artifact=artifact, tag=data["tag"], registry=data.get("registry", ""),
                                     build_args=data.get("build_args") or {})
        return Response(self.render(s.BuildDetailSerializer, build), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.BuildDetailSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, *args, **kwargs):
        """Cancel: a queued build at once, a running one at its next step; a finished build is left alone."""
        build = services.build_cancel(actor=self.actor, build=self.get_object())
        return Response(self.render(s.BuildDetailSerializer, build))

    @extend_schema(parameters=[s.LogQuerySerializer], responses={200: s.LogSerializer})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def log(self, request, *args, **kwargs):
        """The build's numbered log lines after `after` (the last number a client has), at most `limit`.
        Browsers call it when they (re)connect or see a gap in the live `build.log` events."""
        build = self.get_object()
        query = s.LogQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        lines = selectors.log_lines(build, after=query.validated_data["after"], limit=query.validated_data["limit"])
        return Response(s.LogSerializer({"build": build.pk, "state": build.state, "step": build.step,
                                         "finished": build.finished, "last": build.log_lines,
                                         "lines": list(lines)}).data)

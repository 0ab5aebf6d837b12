"""/v2/ itself, the token endpoint, the catalog and the answer for unknown /v2/ paths."""
import json
from datetime import UTC, datetime

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse

from .. import auth, selectors
from .base import basic_principal, challenge, endpoint, request_auth
from .errors import RegistryError
from .manifests import paginate


@endpoint
def root(request):
    """200 for an authenticated caller; otherwise the challenge that starts the token flow."""
    if request.method not in ("GET", "HEAD"):
        raise RegistryError(405, "UNSUPPORTED", headers={"Allow": "GET, HEAD"})
    if request_auth(request).principal.anonymous:
        raise challenge(request)
    return HttpResponse(b"{}", content_type="application/json")


@endpoint
def token(request):
    """Docker's token endpoint: GET with optional HTTP Basic (username + API token) and `scope`
    parameters, or the OAuth2 password grant (POST form) that containerd tries first. Anonymous
    callers get a token that grants nothing, as Docker Hub's does."""
    if request.method == "GET":
        header = request.META.get("HTTP_AUTHORIZATION", "")
        principal = basic_principal(request, header) if header.lower().startswith("basic ") else auth.ANONYMOUS
        scopes = request.GET.getlist("scope")
    elif request.method == "POST":
        try:
            form = request.POST
        except RequestDataTooBig:
            raise RegistryError(413, "UNSUPPORTED", message="request body too large") from None
        if form.get("grant_type") != "password":
            return _oauth_error("unsupported_grant_type")
        principal = _password_grant(request, form.get("username", ""), form.get("password", ""))
        scopes = form.getlist("scope")
    else:
        raise RegistryError(405, "UNSUPPORTED", headers={"Allow": "GET, POST"})
    ttl = auth.DEFAULT_TTL
    signed = auth.token_for(principal, auth.parse_scopes(scopes), ttl)
    body = {"token": signed, "access_token": signed, "expires_in": ttl,
            "issued_at": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
    response = HttpResponse(json.dumps(body), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def _password_grant(request, username: str, password: str) -> auth.Principal:
    import base64

    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    return basic_principal(request, f"Basic {basic}")


def _oauth_error(code: str) -> HttpResponse:
    response = HttpResponse(json.dumps({"error": code}), status=400, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


@endpoint
def catalog(request):
    if request.method not in ("GET", "HEAD"):
        raise RegistryError(405, "UNSUPPORTED", headers={"Allow": "GET, HEAD"})
    result = request_auth(request)
    if not result.allows("registry", "catalog", "*"):
        raise challenge(request, "registry:catalog:*")
    found, link = paginate(request, "/v2/_catalog", selectors.catalog_names(result.principal))
    response = HttpResponse(json.dumps({"repositories": found}), content_type="application/json")
    if link:
        response["Link"] = link
    return response


@endpoint
def unknown(request, rest: str = ""):
    raise RegistryError(404, "UNSUPPORTED", message="no such registry endpoint")

"""The platform's base images, built here with no internet: ``platform/jre:17`` and friends.

They are small stand-ins for the real runtimes, good for building, pushing, pulling and running
on the cluster simulator: each has /etc/os-release, /etc/passwd and /etc/group (root, and the
non-root user ``app`` with uid/gid 10001 that app Dockerfiles switch to), the runtime's files
(a tiny shell script where the real binary would be, which says it is simulated) and the config
a real image of that runtime has (PATH, JAVA_HOME, ...; User root, a working directory).

Each is built from a Dockerfile by the native builder itself, so it is reproducible: seeding
twice, or on another machine, gives the same digests. The /etc layer is the same in every image,
so a registry stores it once.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .builder import build_image
from .client import RegistryClient
from .references import ImageRef

APP_UID = 10001
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

COMMON_FILES = {
    "etc/os-release": (
        b'NAME="Stratus Base"\nID=stratus\nVERSION_ID=1\n'
        b'PRETTY_NAME="Stratus platform base image 1 (simulated runtimes)"\n'
        b'HOME_URL="https://stratus.example/"\n'),
    "etc/passwd": (
        "root:x:0:0:root:/root:/bin/sh\n"
        f"app:x:{APP_UID}:{APP_UID}:application:/home/app:/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n").encode(),
    "etc/group": f"root:x:0:\napp:x:{APP_UID}:\nnogroup:x:65534:\n".encode(),
}


def _stub(runtime: str, version: str) -> bytes:
    return (
        "#!/bin/sh\n"
        f"# Stratus platform base image: a simulated {runtime} {version} runtime.\n"
        f'echo "{runtime} {version} (simulated runtime of a Stratus platform base image): $*"\n').encode()


@dataclass(frozen=True)
class BaseImageSpec:
    name: str
    tag: str
    stack: str  # applications.models.Stack value
    description: str
    dockerfile: str
    files: dict[str, bytes] = field(default_factory=dict)


def _dockerfile(*lines: str, title: str) -> str:
    return "\n".join([
        "# Built by applications/oci/base_images.py with the native builder (no internet, reproducible).",
        "FROM scratch",
        "COPY etc/ /etc/",
        *lines,
        f'LABEL org.opencontainers.image.title="{title}" org.opencontainers.image.vendor="Stratus PaaS" '
        "io.stratus.base.simulated=true",
        "",
    ])


NGINX_CONF = b"""worker_processes auto;
pid /tmp/nginx.pid;
events { worker_connections 1024; }
http {
    include /etc/nginx/conf.d/*.conf;
}
"""
NGINX_DEFAULT = b"""server {
    listen 8080;
    root /usr/share/nginx/html;
    location / { try_files $uri $uri/ /index.html; }
    location = /healthz { return 200 "ok\\n"; }
}
"""

BASE_IMAGES: list[BaseImageSpec] = [
    BaseImageSpec(
        name="jre", tag="17", stack="java", description="Java 17 runtime (simulated) for Spring Boot jars",
        files={"java": _stub("Java", "17")},
        dockerfile=_dockerfile(
            "COPY --chmod=0755 java /opt/java/bin/java",
            f"ENV JAVA_HOME=/opt/java JAVA_VERSION=17 LANG=C.UTF-8 PATH=/opt/java/bin:{PATH}",
            "WORKDIR /app",
            'CMD ["java", "-version"]',
            title="Stratus JRE 17 (simulated)")),
    BaseImageSpec(
        name="distroless-static", tag="1", stack="go", description="Static binaries (Go): no shell, no libc",
        dockerfile=_dockerfile(
            f"ENV PATH={PATH} SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            "WORKDIR /",
            title="Stratus distroless static 1")),
    BaseImageSpec(
        name="python", tag="3.12", stack="python", description="Python 3.12 runtime (simulated)",
        files={"python3": _stub("Python", "3.12")},
        dockerfile=_dockerfile(
            "COPY --chmod=0755 python3 /usr/local/bin/python3",
            "COPY --chmod=0755 python3 /usr/local/bin/python",
            f"ENV PYTHON_VERSION=3.12 LANG=C.UTF-8 PYTHONUNBUFFERED=1 PATH={PATH}",
            "WORKDIR /app",
            'CMD ["python3"]',
            title="Stratus Python 3.12 (simulated)")),
    BaseImageSpec(
        name="node", tag="20", stack="node", description="Node.js 20 runtime (simulated)",
        files={"node": _stub("Node.js", "20")},
        dockerfile=_dockerfile(
            "COPY --chmod=0755 node /usr/local/bin/node",
            f"ENV NODE_VERSION=20 NODE_ENV=production PATH={PATH}",
            "WORKDIR /app",
            'CMD ["node"]',
            title="Stratus Node.js 20 (simulated)")),
    BaseImageSpec(
        name="nginx", tag="1.27", stack="static", description="nginx 1.27 for static web sites (simulated)",
        files={"nginx": _stub("nginx", "1.27"), "nginx.conf": NGINX_CONF, "default.conf": NGINX_DEFAULT,
               "index.html": b"<!doctype html><title>Stratus</title><p>It works (simulated nginx).</p>\n"},
        dockerfile=_dockerfile(
            "COPY --chmod=0755 nginx /usr/sbin/nginx",
            "COPY nginx.conf /etc/nginx/nginx.conf",
            "COPY default.conf /etc/nginx/conf.d/default.conf",
            "COPY index.html /usr/share/nginx/html/index.html",
            f"ENV NGINX_VERSION=1.27 PATH={PATH}",
            "WORKDIR /usr/share/nginx/html",
            "EXPOSE 8080",
            "STOPSIGNAL SIGQUIT",
            'CMD ["nginx", "-g", "daemon off;"]',
            title="Stratus nginx 1.27 (simulated)")),
]


def seed_base_images(client: RegistryClient, namespace: str = "platform",
                     log: Callable[[str], None] | None = None,
                     only: list[str] | None = None) -> list[tuple[str, str, str]]:
    """Build and push the base images as ``<namespace>/<name>:<tag>``; returns (name, tag, digest).

    Idempotent: a registry that has them already receives no blob again.
    """
    log = log or (lambda message: None)
    seeded = []
    for spec in BASE_IMAGES:
        if only and spec.name not in only and f"{spec.name}:{spec.tag}" not in only:
            continue
        target = ImageRef(registry=client.host, repository=f"{namespace}/{spec.name}", tag=spec.tag)
        result = build_image(
            dockerfile=spec.dockerfile, context_files={**COMMON_FILES, **spec.files}, target=target,
            client=client, log=lambda message, name=spec.name: log(f"[{name}] {message}"),
            provenance={"seededBy": "applications.oci.base_images", "createdBy": "platform"}, builder="native")
        seeded.append((f"{namespace}/{spec.name}", spec.tag, result.digest))
    return seeded

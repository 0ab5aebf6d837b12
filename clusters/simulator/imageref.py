"""Image references and pull credentials, read the way the kubelet and containerd read them.

- ``parse(image)``: ``[host[:port]/]repository[:tag][@digest]`` as the distribution
  reference grammar splits it. The first path component is a registry host only when it
  looks like one (has a dot or a port, or is ``localhost``); otherwise the image lives on
  Docker Hub, which the simulator never contacts.
- ``credentials(pod, secrets, host, repository)``: the usernames and passwords the pod's
  ``imagePullSecrets`` offer for that registry, most specific first, as the kubelet's
  keyring orders them (``kubernetes.io/dockerconfigjson`` and the older
  ``kubernetes.io/dockercfg``; an entry's key may be a bare host, ``host:port``, a URL or
  ``host/path``, and may use ``*`` in the host).
"""
from __future__ import annotations

import base64
import binascii
import fnmatch
import json
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


@dataclass(frozen=True)
class ImageRef:
    host: str  # "docker.io" when the reference names none
    repository: str  # "library/nginx" on Docker Hub
    tag: str = ""
    digest: str = ""

    @property
    def reference(self) -> str:
        """What ``/v2/<repository>/manifests/<reference>`` asks for: the digest wins over the tag."""
        return self.digest or self.tag or "latest"

    @property
    def on_docker_hub(self) -> bool:
        return self.host in DOCKER_HUB_ALIASES


@dataclass(frozen=True)
class Credential:
    username: str
    password: str
    source: str  # "<secret name>" for logs; never the password


def _is_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def parse(image: str) -> ImageRef | None:
    """The parts of ``image``, or None when it is not a reference at all (empty, spaces)."""
    image = (image or "").strip()
    if not image or any(c.isspace() for c in image):
        return None
    name, _, digest = image.partition("@")
    first, sep, rest = name.partition("/")
    if sep and _is_host(first):
        host, path = first.lower(), rest
    else:
        host, path = DOCKER_HUB, name
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    tag = ""
    if colon > last_slash:
        path, tag = path[:colon], path[colon + 1:]
    if not path:
        return None
    if host in DOCKER_HUB_ALIASES and "/" not in path:
        path = f"library/{path}"
    return ImageRef(host=host, repository=path, tag=tag, digest=digest)


# -- credentials ---------------------------------------------------------------------------

def _auths(secret: dict) -> dict:
    data = secret.get("data") or {}
    kind = secret.get("type", "")
    key = ".dockerconfigjson" if kind == "kubernetes.io/dockerconfigjson" else ".dockercfg"
    if kind not in ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg") or key not in data:
        return {}
    try:
        config = json.loads(base64.b64decode(data[key]))
    except (binascii.Error, ValueError, TypeError):
        return {}
    if not isinstance(config, dict):
        return {}
    auths = config.get("auths") if key == ".dockerconfigjson" else config
    return auths if isinstance(auths, dict) else {}


def _user_and_password(entry) -> tuple[str, str] | None:
    if not isinstance(entry, dict):
        return None
    username, password = entry.get("username") or "", entry.get("password") or ""
    if not (username and password) and entry.get("auth"):
        try:
            username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            return None
    if not isinstance(username, str) or not isinstance(password, str) or not (username or password):
        return None
    return username, password


def _key_parts(key: str) -> tuple[str, str]:
    """("host[:port]", "path") of a keyring key: "https://reg:5000/v1/" -> ("reg:5000", "v1")."""
    key = key.strip().lower()
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme):]
    host, _, path = key.partition("/")
    return host, path.strip("/")


def _matches(key: str, host: str, repository: str) -> int:
    """How specifically ``key`` names the image's registry (-1: not at all)."""
    key_host, key_path = _key_parts(key)
    if key_path in ("v1", "v2"):  # "https://host/v1/" is how `docker login` writes a host
        key_path = ""
    if not key_host:
        return -1
    if "*" in key_host:
        if key_host.count(".") != host.count(".") or not fnmatch.fnmatchcase(host, key_host):
            return -1
    elif key_host != host:
        return -1
    if key_path and not (repository == key_path or repository.startswith(key_path + "/")):
        return -1
    return len(key_path) * 2 + (0 if "*" in key_host else 1)


def credentials(pod: dict, secrets: dict[str, dict], ref: ImageRef) -> list[Credential]:
    """Credentials for ``ref`` from the pod's ``imagePullSecrets`` (``secrets``: name -> Secret)."""
    found: list[tuple[int, int, Credential]] = []
    for order, item in enumerate((pod.get("spec") or {}).get("imagePullSecrets") or ()):
        name = item.get("name") if isinstance(item, dict) else None
        secret = secrets.get(name) if name else None
        if secret is None:
            continue
        for key, entry in _auths(secret).items():
            score = _matches(str(key), ref.host, ref.repository)
            pair = _user_and_password(entry) if score >= 0 else None
            if pair is not None:
                found.append((-score, order, Credential(pair[0], pair[1], name)))
    found.sort(key=lambda item: item[:2])
    unique: list[Credential] = []
    for _, _, credential in found:
        if all((c.username, c.password) != (credential.username, credential.password) for c in unique):
            unique.append(credential)
    return unique

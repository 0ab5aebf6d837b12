"""Credentials member clusters use to pull an instance's images.

An instance gets one imagePullSecret (kubernetes.io/dockerconfigjson, rendered by
applications/render.py) with an `auths` entry per registry host its revision's images name:
- the built-in registry (settings.REGISTRY_HOST): the tenant's pull-only login
  (`credentials_for_instance`);
- an external registry (Harbor, distribution, ...): the login the platform holds for that host,
  the tenant's own entry before a platform-wide one (applications.registry.external). A host the
  platform holds no login for gets no entry: its images are pulled anonymously, as a kubelet
  would without a secret.

The passwords are decrypted here, for the Secret's data only; federation masks Secret data in
pages, API and audit (clusters.federation.sensitive), so they appear nowhere else.
"""
from django.conf import settings

from . import images


def credentials_for_instance(instance) -> tuple[str, str]:
    """(username, password) pulling — and only pulling — the instance's tenant's images and the
    platform's base images (applications.registry.auth.pull_credentials: stable, so the pull secret
    does not churn; changing SECRET_KEY revokes them all). Kubelets present them to the token
    endpoint like any registry client."""
    from applications.registry.auth import pull_credentials

    return pull_credentials(instance.application.tenant)


def _external_credentials(tenant, host: str) -> tuple[str, str] | None:
    from applications.registry.external import credentials_for

    return credentials_for(tenant, host)


def registry_hosts(pinned_images: list[str]) -> list[str]:
    """The registry hosts these images name, each once, in order (the built-in one as REGISTRY_HOST)."""
    hosts: list[str] = []
    for image in pinned_images:
        try:
            host = images.parse(image).host
        except ValueError:
            continue  # a revision stores only references it resolved; nothing to log in to otherwise
        if host not in hosts:
            hosts.append(host)
    return hosts


def auths_for_instance(instance, pinned_images: list[str]) -> dict[str, tuple[str, str]]:
    """{registry host: (username, password)} for the pull secret of `instance` running these images
    (empty: no secret is needed)."""
    tenant = instance.application.tenant
    auths: dict[str, tuple[str, str]] = {}
    for host in registry_hosts(pinned_images):
        if host == settings.REGISTRY_HOST:
            credentials = credentials_for_instance(instance)
        else:
            credentials = _external_credentials(tenant, host)
        if credentials:
            auths[host] = tuple(credentials)
    return auths

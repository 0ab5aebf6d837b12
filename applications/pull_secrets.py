"""Credentials member clusters use to pull an instance's images from the built-in registry.

An instance whose images live in the built-in registry gets an imagePullSecret
(kubernetes.io/dockerconfigjson) for settings.REGISTRY_HOST, rendered by applications/render.py
from what `credentials_for_instance` returns.
"""


def credentials_for_instance(instance) -> tuple[str, str]:
    """(username, password) pulling — and only pulling — the instance's tenant's images and the
    platform's base images (applications.registry.auth.pull_credentials: stable, so the pull secret
    does not churn; changing SECRET_KEY revokes them all). Kubelets present them to the token
    endpoint like any registry client."""
    from applications.registry.auth import pull_credentials

    return pull_credentials(instance.application.tenant)

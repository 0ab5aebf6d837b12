"""Credentials member clusters use to pull an instance's images from the built-in registry.

An instance whose images live in the built-in registry gets an imagePullSecret
(kubernetes.io/dockerconfigjson) for settings.REGISTRY_HOST, rendered by applications/render.py
from what `credentials_for_instance` returns.
"""


def credentials_for_instance(instance) -> tuple[str, str] | None:
    """(username, password) for pulling `instance`'s images from the built-in registry, or None
    (no pull secret is rendered, and kubelets pull anonymously).

    TODO(lead): wire this to the registry's token issuing (applications/registry/auth.py
    issue_token, pull scope on the instance's repositories, or a dedicated read-only API token of
    a system account per tenant). Until then no pull secret is created.
    """
    return None

"""Starter documents for a new federated resource, per type, instead of an empty box.

The well-known kinds get a small working object; any other type (a CRD) gets its
apiVersion/kind and an empty spec. Placement and overrides start as comments that
show the syntax: a comment-only document means "nothing", so leaving them as they
are places the resource on every bound cluster without overrides.
"""
from django.utils.translation import gettext as _

_LABELS = "  labels:\n    app: my-app\n"
_POD_SPEC = """    metadata:
      labels:
        app: my-app
    spec:
      containers:
      - name: app
        image: nginx:1.27
        ports:
        - containerPort: 80
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: 500m, memory: 256Mi}
"""

_BODIES = {
    ("apps", "Deployment"): "spec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: my-app\n"
                            "  template:\n" + _POD_SPEC,
    ("apps", "StatefulSet"): "spec:\n  serviceName: my-app\n  replicas: 2\n  selector:\n    matchLabels:\n"
                             "      app: my-app\n  template:\n" + _POD_SPEC,
    ("", "Service"): "spec:\n  selector:\n    app: my-app\n  ports:\n  - name: http\n    port: 80\n"
                     "    targetPort: 80\n",
    ("", "ConfigMap"): "data:\n  APP_MODE: production\n  settings.yaml: |\n    greeting: hello\n",
    ("", "Secret"): "type: Opaque\nstringData:\n  DB_PASSWORD: change-me\n",
}

# JSON-pointer paths an override typically changes, per kind.
_OVERRIDE_EXAMPLES = {
    ("apps", "Deployment"): ("/spec/template/spec/containers/0/image", '"nginx:1.27"'),
    ("apps", "StatefulSet"): ("/spec/template/spec/containers/0/image", '"nginx:1.27"'),
    ("", "Service"): ("/spec/type", "NodePort"),
    ("", "ConfigMap"): ("/data/APP_MODE", "staging"),
    ("", "Secret"): ("/stringData/DB_PASSWORD", "other-password"),
}


def template_for(ftype) -> str:
    key = (ftype.group, ftype.kind)
    body = _BODIES.get(key) or "spec: {}\n"
    comment = (_("# A %(kind)s: change the name and the fields below; the namespace is set for you.")
               % {"kind": ftype.kind})
    return (f"{comment}\napiVersion: {ftype.api_version}\nkind: {ftype.kind}\nmetadata:\n  name: my-app\n"
            f"{_LABELS if key in _BODIES else ''}{body}")


def placement_start() -> str:
    return "\n".join([
        _("# Leave as comments to place on every cluster bound to this environment."),
        _("# Or choose clusters, cells, zones or regions, and how replicas are spread:"),
        "# cells: [cell-a, cell-b]",
        "# replicaScheduling:",
        "#   type: Divided",
        "#   totalReplicas: 6",
        "#   weights: {cell-a: 2, cell-b: 1}",
        "",
    ])


def overrides_start(ftype=None) -> str:
    key = (ftype.group, ftype.kind) if ftype is not None else ("apps", "Deployment")
    path, value = _OVERRIDE_EXAMPLES.get(key, ("/metadata/labels/tier", "canary"))
    return "\n".join([
        _("# Per-cluster changes (JSON-pointer paths), for example:"),
        "# - clusters: [my-cluster]",
        "#   operations:",
        f"#   - {{op: replace, path: {path}, value: {value}}}",
        "",
    ])


def starters(types) -> dict:
    """{type pk: {"template", "overrides"}} for the create page's script."""
    return {str(t.pk): {"template": template_for(t), "overrides": overrides_start(t)} for t in types}

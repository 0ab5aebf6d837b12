"""Demo topology for `make run`: 2 regions, 3 zones, 6 cells and the 6 simulated
clusters (sim-1..sim-6 kubeconfigs written by `manage.py kubesim`), bindings of the
demo tenants' environments, and OpenKruise's CloneSet registered as a federated type
(every simulated cluster runs OpenKruise; applications render CloneSets for in-place
releases).

Idempotent: what exists is kept; a cluster whose kubeconfig changed (e.g. the
simulator's state directory was wiped) gets its credentials replaced. Everything goes
through clusters.services, like an operator would.
"""
from pathlib import Path

from paas.actors import Actor
from paas.errors import DomainError
from tenants.models import Environment

from . import services
from .models import Cell, Cluster, EnvironmentBinding, Region, Zone

REGIONS = [("east", "East", {"geo": "east"}), ("north", "North", {"geo": "north"})]
ZONES = [("east-1", "East IDC 1", "east"), ("east-2", "East IDC 2", "east"), ("north-1", "North IDC 1", "north")]
# (cell, name, zone, env-tier): each zone has a production cell and a non-production one.
CELLS = [
    ("east-1a", "East 1 · A", "east-1", "prod"), ("east-1b", "East 1 · B", "east-1", "nonprod"),
    ("east-2a", "East 2 · A", "east-2", "prod"), ("east-2b", "East 2 · B", "east-2", "nonprod"),
    ("north-1a", "North 1 · A", "north-1", "prod"), ("north-1b", "North 1 · B", "north-1", "nonprod"),
]
# kubeconfig name -> cell (one cluster per cell)
CLUSTERS = {"sim-1": "east-1a", "sim-2": "east-1b", "sim-3": "east-2a", "sim-4": "east-2b",
            "sim-5": "north-1a", "sim-6": "north-1b"}
# (tenant, environment) -> cells. Production spans both regions and never shares a
# cluster with development or test.
BINDINGS = {
    ("acme", "prod"): ["east-1a", "north-1a"],
    ("acme", "pre"): ["north-1b"],
    ("acme", "test"): ["east-1b", "north-1b"],
    ("acme", "dev"): ["east-1b"],
    ("globex", "prod"): ["east-2a"],
    ("globex", "pre"): ["east-2b"],
    ("globex", "test"): ["east-2b"],
    ("globex", "dev"): ["east-2b"],
}


def _topology(actor: Actor) -> dict[str, Cell]:
    regions, zones, cells = {}, {}, {}
    for slug, name, labels in REGIONS:
        regions[slug] = Region.objects.filter(slug=slug).first() or services.region_create(
            actor=actor, name=name, slug=slug, labels=labels)
    for slug, name, region in ZONES:
        zones[slug] = Zone.objects.filter(slug=slug).first() or services.zone_create(
            actor=actor, region=regions[region], name=name, slug=slug, labels={"idc": slug})
    for slug, name, zone, tier in CELLS:
        cells[slug] = Cell.objects.filter(slug=slug).first() or services.cell_create(
            actor=actor, zone=zones[zone], name=name, slug=slug, labels={"env-tier": tier})
    return cells


def _cluster(actor: Actor, path: Path, cell: Cell) -> tuple[Cluster, str]:
    text = path.read_text()
    slug = path.name.removesuffix(".kubeconfig")
    cluster = Cluster.objects.filter(slug=slug).first()
    if cluster is None:
        tier = cell.labels.get("env-tier", "nonprod")
        cluster = services.cluster_register(actor=actor, cell=cell, name=slug, slug=slug, kubeconfig_text=text,
                                            labels={"env-tier": tier, "provider": "kubesim"}, probe=False)
        return cluster, "registered"
    before = cluster.credentials
    cluster = services.cluster_replace_credentials(actor=actor, cluster=cluster, kubeconfig_text=text, probe=False)
    return cluster, "credentials replaced" if bytes(cluster.credentials) != bytes(before) else "unchanged"


def register_demo_topology(kubeconfig_dir, *, actor: Actor, stdout=None) -> list[tuple[Cluster, str]]:
    """Create what is missing and return [(cluster, what happened)] for the kubeconfigs found."""
    directory = Path(kubeconfig_dir)
    cells = _topology(actor)
    results = []
    for name, cell_slug in CLUSTERS.items():
        path = directory / f"{name}.kubeconfig"
        if not path.exists():
            if stdout:
                stdout.write(f"no kubeconfig {path}; cluster {name} skipped")
            continue
        results.append(_cluster(actor, path, cells[cell_slug]))
    for (tenant_slug, env_slug), cell_slugs in BINDINGS.items():
        environment = Environment.objects.filter(tenant__slug=tenant_slug, slug=env_slug).first()
        if environment is None:
            continue
        for cell_slug in cell_slugs:
            if not EnvironmentBinding.objects.filter(environment=environment, cell=cells[cell_slug]).exists():
                services.environment_bind(actor=actor, environment=environment, cell=cells[cell_slug])
    if stdout:
        for cluster, what in results:
            stdout.write(f"cluster {cluster.slug} in {cluster.cell.slug}: {what}")
    register_kruise_types([cluster for cluster, _what in results], actor=actor, stdout=stdout)
    return results


KRUISE_CRDS = ("clonesets.apps.kruise.io",)


def register_kruise_types(clusters, *, actor: Actor, stdout=None) -> None:
    """Make OpenKruise's kinds federatable (and enabled), read from the first cluster that answers,
    as an operator would with "register a CRD" on the federation types page."""
    from .federation import services as federation

    for crd_name in KRUISE_CRDS:
        for cluster in clusters:
            try:
                ftype = federation.federated_type_register_crd(actor=actor, cluster=cluster, crd_name=crd_name)
            except DomainError as exc:
                if stdout:
                    stdout.write(f"{crd_name} not registered from {cluster.slug}: {exc.message}")
                continue
            if not ftype.enabled:
                federation.federated_type_set_enabled(actor=actor, ftype=ftype, enabled=True)
            if stdout:
                stdout.write(f"federated type {ftype.kind} ({ftype.api_version}) from {cluster.slug}")
            break

"""``manage.py kubesim``: run simulated Kubernetes clusters in the foreground.

    python manage.py kubesim --clusters 3 --port 16443 --state-dir var/kubesim [--processes 2]

prints one line per cluster (name, URL, kubeconfig path) and serves until SIGINT or
SIGTERM. The product reaches these clusters only through their kubeconfigs, exactly
like real ones.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from clusters.simulator.__main__ import add_arguments, cluster_names
from clusters.simulator.server import run


class Command(BaseCommand):
    help = "Run N simulated Kubernetes API servers (kubectl and the official client work against them)."

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **options):
        if options["clusters"] < 1:
            raise CommandError("--clusters must be at least 1")
        if options["processes"] < 1:
            raise CommandError("--processes must be at least 1")
        if options["traffic_lag"] < 0 or options["traffic_heartbeat"] < 0:
            raise CommandError("--traffic-lag and --traffic-heartbeat must not be negative")
        try:
            names = cluster_names(options["clusters"], options["names"])
        except SystemExit as exc:
            raise CommandError(str(exc)) from None
        run(names, options["port"], options["state_dir"], admin_port=options["admin_port"],
            ready_delay=options["ready_delay"], nodes_per_cluster=options["nodes_per_cluster"],
            tls=not options["plain_http"], history_size=options["watch_history"], print_fn=self._print,
            processes=options["processes"], admin_socket=options["child_admin_socket"],
            traffic_port=options["traffic_port"], traffic_lag=options["traffic_lag"],
            traffic_heartbeat=options["traffic_heartbeat"])

    def _print(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()  # callers wait for these lines to know the clusters are up

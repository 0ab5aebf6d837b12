"""``python -m clusters.simulator`` — the same as ``manage.py kubesim``, without Django."""
from __future__ import annotations

import argparse
import logging

from .server import run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clusters", type=int, default=1, help="number of simulated clusters (default 1)")
    parser.add_argument("--port", type=int, default=16443, help="port of the first cluster; the rest follow")
    parser.add_argument("--state-dir", default="var/kubesim", help="where <cluster>.kubeconfig files are written")
    parser.add_argument("--admin-port", type=int, default=None,
                        help="fault-injection/admin port for all clusters (default: the port after the last cluster)")
    parser.add_argument("--ready-delay", type=float, default=2.0, help="seconds before a started pod becomes ready")
    parser.add_argument("--nodes-per-cluster", type=int, default=3, help="nodes registered in each cluster")
    parser.add_argument("--names", default="", help="comma-separated cluster names (default sim-1..sim-N)")
    parser.add_argument("--watch-history", type=int, default=10_000,
                        help="events kept per cluster for watch resumption; older resourceVersions get 410")
    parser.add_argument("--plain-http", action="store_true",
                        help="serve http instead of https (kubectl then sends no token and gets 401)")
    parser.add_argument("--processes", type=int, default=1,
                        help="spread the clusters over this many processes (one core each); same ports, "
                             "kubeconfigs and admin port as with one (default 1)")
    parser.add_argument("--traffic-port", type=int, default=None,
                        help="serve the traffic simulator (registry, load balancers, DNS, request generators, "
                             "Prometheus API) on this port (0: any free port; default: not started)")
    parser.add_argument("--traffic-lag", type=float, default=2.0,
                        help="seconds load balancer backends and DNS records trail the Endpoints (default 2)")
    parser.add_argument("--traffic-heartbeat", type=float, default=3.0,
                        help="registry heartbeat timeout: seconds before a not-ready pod's instance turns "
                             "unhealthy (default 3)")
    # How a multi-process simulator starts its children (processes.py); not for people.
    parser.add_argument("--child-admin-socket", default=None, help=argparse.SUPPRESS)


def cluster_names(count: int, names: str) -> list[str]:
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    if chosen and len(chosen) != count:
        raise SystemExit(f"--names lists {len(chosen)} names but --clusters is {count}")
    return chosen or [f"sim-{i + 1}" for i in range(count)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m clusters.simulator", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.traffic_lag < 0 or args.traffic_heartbeat < 0:
        parser.error("--traffic-lag and --traffic-heartbeat must not be negative")
    logging.basicConfig(level=logging.WARNING)
    run(cluster_names(args.clusters, args.names), args.port, args.state_dir, admin_port=args.admin_port,
        ready_delay=args.ready_delay, nodes_per_cluster=args.nodes_per_cluster, tls=not args.plain_http,
        history_size=args.watch_history, print_fn=lambda s: print(s, flush=True), processes=args.processes,
        admin_socket=args.child_admin_socket, traffic_port=args.traffic_port, traffic_lag=args.traffic_lag,
        traffic_heartbeat=args.traffic_heartbeat)


if __name__ == "__main__":
    main()

"""The traffic side of the simulator: what a release's traffic providers and health gates
talk to. One aiohttp server for all simulated clusters (``--traffic-port``; its URL is
``traffic_url`` in ``clusters.json``), learning pods, services and endpoints through each
cluster's own API (``watcher``), so it works the same with ``--processes K``.

  GET  /registry/v1/services                                       {"services": [...]}
  GET  /registry/v1/services/{service}/instances                   {"instances": [{id, cluster, namespace, pod, ip, port, enabled, healthy}]}
  PUT  /registry/v1/services/{service}/instances/{cluster}/{ns}/{pod}   {"enabled": bool}
  GET  /lb/v1/loadbalancers[/{lb}]                                 lb id = "<namespace>.<service>"
  GET  /lb/v1/loadbalancers/{lb}/backends                          {"backends": [{id, cluster, namespace, pod, ip, port, weight, healthy}]}
  PUT  /lb/v1/loadbalancers/{lb}/backends/{cluster}/{ns}/{pod}     {"weight": 0..100}
  GET  /dns/v1/zones/paas.local/records[/{service}.{ns}]
  PUT|DELETE /dns/v1/zones/paas.local/records/{name}/{ip}[?cluster=]   add back / remove one IP
  POST /traffic/v1/generators {"name", "target": "lb:<lb>"|"registry:<service>"|"dns:<name>", "rate"}
  GET|DELETE /traffic/v1/generators/{name}; POST /traffic/v1/generators/{name}/reset
  GET|POST /prometheus/api/v1/query (query, time)                  Prometheus's JSON and errors
  GET|POST|DELETE /faults/v1/metrics {"image", "error_ratio", "latency_seconds"}
  GET|PUT /traffic/v1/settings {"lb_lag_seconds", "registry_heartbeat_seconds"};  GET /traffic/v1/pods

Modules: ``state`` (the watched truth, ``Lagged``), ``watcher``, ``registry``, ``loadbalancer``,
``dns``, ``generator``, ``prometheus`` + ``promql`` (the query subset), ``faults``, ``server``.
"""

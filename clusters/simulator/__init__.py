"""A standalone Kubernetes API server simulator.

It is a *server*: product code talks to it only through the official ``kubernetes``
client or kubectl, exactly as it talks to a real cluster, and never imports this
package. It lets development, demos, tests and benchmarks run many "clusters" on one
machine without Docker or kind.

Run it with ``python manage.py kubesim`` (or ``python -m clusters.simulator``); each
cluster gets an https port and ``<state-dir>/<name>.kubeconfig``.

Layout (each module's docstring says why it exists):

- state and semantics: ``store`` (objects, resourceVersions, indexes, watch history
  and fan-out), ``registry`` (built-in and CRD kinds), ``apiserver`` (create/update/
  patch/delete rules), ``kinds`` (defaulting and validation), ``selectors``,
  ``patching`` and ``apply`` (patch formats, server-side apply), ``decoding`` (YAML/JSON
  bodies), ``quantity``, ``errors``, ``events`` (the Event recorder: aggregation, TTL, per-namespace bound)
- HTTP: ``api`` (routing and verbs), ``responses`` (encoding, list streaming),
  ``watching``, ``logs`` (generated pod logs, follow), ``tables`` (kubectl's Table output), ``discovery`` (discovery and the
  minimal OpenAPI), ``admin`` (admin port), ``faults``, ``pki`` (TLS)
- ``controllers/``: scheduler+kubelet (its Event wording in ``kubelet_events``, image pulls and their back-off in
  ``kubelet_pulls``, registry checks off the event loop in ``imagepull``), replicasets, deployments, statefulsets,
  endpoints, garbage collector and namespaces, resource quota
- image pulls: ``imageref`` (image references, imagePullSecrets), ``registryprobe`` (asks a registry for a
  manifest, Bearer/Basic challenges, as containerd does)
- ``traffic/`` (``--traffic-port``): service registry, load balancers, DNS, request generators, a Prometheus
  query API and metric faults, fed by list+watch of every cluster's API (see its ``__init__``)
- running: ``server``, ``processes`` (``--processes``: clusters over child processes),
  ``bootstrap`` (initial namespaces/nodes), ``bulk`` and ``bench`` (scale benchmark), ``__main__``
"""

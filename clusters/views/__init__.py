"""Cluster registry pages: topology overview, clusters, cells and zones, the global
stop switch and environment bindings. Thin: parse, call a selector or service, render."""

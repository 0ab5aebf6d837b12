"""Live event counters, served at /metrics with the rest (clusters.federation.metrics)."""
from prometheus_client import Counter, Histogram

from clusters.federation.metrics import REGISTRY

LOST = Counter("paas_live_events_lost", "Live events a web process did not get from the channel layer in "
               "order (found by their sequence numbers and sent from the stream log instead); those that "
               "turned up later are also counted in paas_live_events_late.", registry=REGISTRY)
LATE = Counter("paas_live_events_late", "Live events that reached a web process after their gap was filled "
               "from the stream log (dropped as duplicates).", registry=REGISTRY)
DELIVERED = Counter("paas_live_events_delivered", "Live events sent to browser connections.", registry=REGISTRY)
RESETS = Counter("paas_live_resets", "Resumes answered with reset (the browser was too far behind).",
                 registry=REGISTRY)
FAN_OUT = Histogram("paas_live_fan_out_seconds", "Time a web process takes to hand one event to all its "
                    "local connections.", buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                    registry=REGISTRY)
UNPUBLISHED = Counter("paas_live_events_unpublished", "Live events not published: the database failed while "
                      "numbering them after their change had committed.", registry=REGISTRY)

"""Release options: what the user may choose about a release, checked field by field.

    {"beta": {"pods": 1, "cell": "<cell slug>"|null},
     "grouping": "cell"|"zone"|"region"|"cluster",
     "batches": ["50%", "100%"],   # cumulative per group: pod counts (int) or percentages
     "confirm": "manual"|"auto", "wait_seconds": 0,
     "lossless": true, "drain_seconds": 2, "warmup_seconds": 1,
     "gates": {"min_ready_ratio": 1.0, "no_restarts": true, "prometheus_url": "",
               "metrics": [{"name", "query", "op", "threshold"}], "timeout_seconds": 300},
     "on_gate_failure": "pause"|"rollback"}

Everything is optional; `clean()` returns the complete document with defaults filled in, so
the plan, the executor and the pages never guess a default of their own. Anything else (an
unknown key, a wrong JSON type, a boolean where a number goes, NaN, a huge count) is a
DomainError naming the field ("options.batches[1]"), never a 500.

gates.prometheus_url "" means the platform's own Prometheus (the executor picks it: the
simulator's in the demo and tests).

Batches: percentages must rise and end at 100%; counts must rise, and when the last count is
below a group's pods the plan adds a final batch for the rest (every batch ends with all pods of
the group on the new revision, see releases/plan.py). A final "100%" may follow counts.
"""
import math
import re
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from paas.errors import DomainError

GROUPINGS = ("cell", "zone", "region", "cluster")
CONFIRMS = ("manual", "auto")
ON_GATE_FAILURE = ("pause", "rollback")
GATE_OPS = ("<", "<=", ">", ">=")
MAX_BATCHES = 20
MAX_PODS = 100_000
MAX_METRICS = 10
MAX_SECONDS = 86_400
PERCENT = re.compile(r"^([1-9][0-9]?|100)%$")
SLUG = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

DEFAULT_METRIC_QUERY = 'max(sim_http_error_ratio{namespace="{namespace}",pod=~"{pods}"})'


def defaults() -> dict:
    return {
        "beta": {"pods": 1, "cell": None},
        "grouping": "cell",
        "batches": ["50%", "100%"],
        "confirm": "manual",
        "wait_seconds": 0,
        "lossless": True,
        "drain_seconds": 2,
        "warmup_seconds": 1,
        "gates": {"min_ready_ratio": 1.0, "no_restarts": True, "prometheus_url": "", "metrics": [],
                  "timeout_seconds": 300},
        "on_gate_failure": "pause",
    }


def _fail(path: str, problem: str):
    raise DomainError(f"{path}: {problem}", field=path, code="invalid_options")


def _object(value, path: str, allowed) -> dict:
    if not isinstance(value, dict):
        _fail(path, _("must be an object"))
    for key in value:
        if key not in allowed:
            _fail(f"{path}.{key}" if isinstance(key, str) and len(key) < 64 else path, _("unknown field"))
    return value


def _int(value, path: str, low: int, high: int) -> int:
    # bool is an int in Python; JSON true is not a count.
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, _("must be a whole number"))
    if not low <= value <= high:
        _fail(path, _("must be between %(low)s and %(high)s") % {"low": low, "high": high})
    return value


def _number(value, path: str, low: float, high: float) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _fail(path, _("must be a number"))
    if not low <= value <= high:
        _fail(path, _("must be between %(low)s and %(high)s") % {"low": low, "high": high})
    return value


def _bool(value, path: str) -> bool:
    if not isinstance(value, bool):
        _fail(path, _("must be true or false"))
    return value


def _choice(value, path: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        _fail(path, _("must be one of: %(choices)s") % {"choices": ", ".join(choices)})
    return value


def _text(value, path: str, limit: int, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        _fail(path, _("must be a string"))
    if len(value) > limit:
        _fail(path, _("at most %(n)s characters") % {"n": limit})
    if not empty and not value.strip():
        _fail(path, _("must not be empty"))
    if "\x00" in value:
        _fail(path, _("must not contain NUL characters"))
    return value


def _beta(value, path: str) -> dict:
    value = _object(value, path, ("pods", "cell"))
    out = dict(defaults()["beta"])
    if "pods" in value:
        out["pods"] = _int(value["pods"], f"{path}.pods", 0, MAX_PODS)
    cell = value.get("cell")
    if cell not in (None, ""):
        if not isinstance(cell, str) or not SLUG.match(cell):
            _fail(f"{path}.cell", _("must be the slug of a cell, or null for the first cell"))
        out["cell"] = cell
    return out


def parse_batch(item) -> tuple[str, int]:
    """A cleaned batch -> ("percent", 50) or ("count", 3)."""
    if isinstance(item, str):
        return "percent", int(item[:-1])
    return "count", item


def _batches(value, path: str) -> list:
    if not isinstance(value, list) or not value:
        _fail(path, _("must be a non-empty list of pod counts or percentages such as \"50%\""))
    if len(value) > MAX_BATCHES:
        _fail(path, _("at most %(n)s batches") % {"n": MAX_BATCHES})
    out, last = [], None
    for i, item in enumerate(value):
        here = f"{path}[{i}]"
        if isinstance(item, str):
            if not PERCENT.match(item):
                _fail(here, _("a percentage is written like \"25%\" (1% to 100%)"))
        else:
            _int(item, here, 1, MAX_PODS)
        kind, number = parse_batch(item)
        if last is not None:
            if kind == last[0] and number <= last[1]:
                _fail(here, _("batches are cumulative: each must be larger than the one before"))
            if last[0] == "percent" and kind == "count":
                _fail(here, _("a pod count cannot follow a percentage"))
            if last[0] == "count" and kind == "percent" and number != 100:
                _fail(here, _("after pod counts only \"100%\" may follow"))
        out.append(item)
        last = (kind, number)
    if last[0] == "percent" and last[1] != 100:
        _fail(f"{path}[{len(value) - 1}]", _("the last batch must be \"100%\": every pod is updated in the end"))
    return out


def _url(value, path: str) -> str:
    value = _text(value, path, 500)
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            _fail(path, _("must be an http(s) URL without credentials"))
    return value


def _metric(value, path: str) -> dict:
    value = _object(value, path, ("name", "query", "op", "threshold"))
    for key in ("name", "query", "op", "threshold"):
        if key not in value:
            _fail(f"{path}.{key}", _("is required"))
    return {"name": _text(value["name"], f"{path}.name", 100, empty=False),
            "query": _text(value["query"], f"{path}.query", 2000, empty=False),
            "op": _choice(value["op"], f"{path}.op", GATE_OPS),
            "threshold": _number(value["threshold"], f"{path}.threshold", -1e12, 1e12)}


def _gates(value, path: str) -> dict:
    value = _object(value, path, ("min_ready_ratio", "no_restarts", "prometheus_url", "metrics", "timeout_seconds"))
    out = dict(defaults()["gates"])
    if "min_ready_ratio" in value:
        out["min_ready_ratio"] = _number(value["min_ready_ratio"], f"{path}.min_ready_ratio", 0, 1)
    if "no_restarts" in value:
        out["no_restarts"] = _bool(value["no_restarts"], f"{path}.no_restarts")
    if "prometheus_url" in value:
        out["prometheus_url"] = _url(value["prometheus_url"], f"{path}.prometheus_url")
    if "metrics" in value:
        metrics = value["metrics"]
        if not isinstance(metrics, list):
            _fail(f"{path}.metrics", _("must be a list"))
        if len(metrics) > MAX_METRICS:
            _fail(f"{path}.metrics", _("at most %(n)s metric gates") % {"n": MAX_METRICS})
        out["metrics"] = [_metric(m, f"{path}.metrics[{i}]") for i, m in enumerate(metrics)]
    if "timeout_seconds" in value:
        out["timeout_seconds"] = _int(value["timeout_seconds"], f"{path}.timeout_seconds", 1, 3600)
    return out


def clean(options, path: str = "options") -> dict:
    """The complete options document, or a DomainError naming the first bad field."""
    if options in (None, ""):
        options = {}
    options = _object(options, path, tuple(defaults()))
    out = defaults()
    if "beta" in options:
        out["beta"] = _beta(options["beta"], f"{path}.beta")
    if "grouping" in options:
        out["grouping"] = _choice(options["grouping"], f"{path}.grouping", GROUPINGS)
    if "batches" in options:
        out["batches"] = _batches(options["batches"], f"{path}.batches")
    if "confirm" in options:
        out["confirm"] = _choice(options["confirm"], f"{path}.confirm", CONFIRMS)
    if "wait_seconds" in options:
        out["wait_seconds"] = _int(options["wait_seconds"], f"{path}.wait_seconds", 0, MAX_SECONDS)
    if "lossless" in options:
        out["lossless"] = _bool(options["lossless"], f"{path}.lossless")
    for key in ("drain_seconds", "warmup_seconds"):
        if key in options:
            out[key] = _number(options[key], f"{path}.{key}", 0, 3600)
    if "gates" in options:
        out["gates"] = _gates(options["gates"], f"{path}.gates")
    if "on_gate_failure" in options:
        out["on_gate_failure"] = _choice(options["on_gate_failure"], f"{path}.on_gate_failure", ON_GATE_FAILURE)
    return out

"""Kubernetes label selectors ({matchLabels, matchExpressions}) over plain dicts.

Pure functions shared by placement (which clusters) and overrides (which clusters
an override applies to); both match against Cluster.topology_labels().
"""
from django.utils.translation import gettext as _

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class SelectorError(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path, self.message = path, message


def check_selector(selector, path: str) -> None:
    """Raise SelectorError naming the offending part of a malformed selector."""
    if not isinstance(selector, dict):
        raise SelectorError(path, _("must be an object with matchLabels and/or matchExpressions"))
    unknown = set(selector) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise SelectorError(f"{path}.{sorted(unknown)[0]}", _("unknown field"))
    match_labels = selector.get("matchLabels", {})
    if not isinstance(match_labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in match_labels.items()):
        raise SelectorError(f"{path}.matchLabels", _("must map label names to string values"))
    expressions = selector.get("matchExpressions", [])
    if not isinstance(expressions, list):
        raise SelectorError(f"{path}.matchExpressions", _("must be a list"))
    for i, expr in enumerate(expressions):
        where = f"{path}.matchExpressions[{i}]"
        if not isinstance(expr, dict) or not isinstance(expr.get("key"), str) or not expr["key"]:
            raise SelectorError(where, _("needs a key"))
        operator = expr.get("operator")
        if operator not in OPERATORS:
            raise SelectorError(f"{where}.operator", _("must be one of %(ops)s") % {"ops": ", ".join(OPERATORS)})
        values = expr.get("values", [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise SelectorError(f"{where}.values", _("must be a list of strings"))
        if operator in ("In", "NotIn") and not values:
            raise SelectorError(f"{where}.values", _("%(op)s needs at least one value") % {"op": operator})
        if operator in ("Exists", "DoesNotExist") and values:
            raise SelectorError(f"{where}.values", _("%(op)s takes no values") % {"op": operator})


def matches(selector: dict | None, labels: dict) -> bool:
    """True when `labels` satisfy the selector (an empty or missing selector matches everything)."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, operator, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True

"""The new-release form: a target revision and the options of CONTRACTS C, laid out as fields.
It only shapes input (types, ranges, the batches list); releases/options.py (through
release_preview / release_create) validates the whole and its errors come back on the fields
they name (`add_domain_error`)."""
import re

from django import forms
from django.utils.translation import gettext_lazy as _

MAX_METRICS = 5
GROUPINGS = [("cell", _("Cell by cell")), ("zone", _("Zone by zone")), ("region", _("Region by region")),
             ("cluster", _("Cluster by cluster"))]
CONFIRM = [("manual", _("Manual confirmation")), ("auto", _("Automatic after the wait"))]
ON_FAILURE = [("pause", _("Pause the release")), ("rollback", _("Roll back to the baseline"))]
OPS = [("<", "<"), ("<=", "≤"), (">", ">"), (">=", "≥")]
_BATCH = re.compile(r"^(\d{1,6})(%?)$")

DEFAULT_METRIC = {"name": "error rate",
                  "query": 'max(sim_http_error_ratio{namespace="{namespace}",pod=~"{pods}"})',
                  "op": "<", "threshold": 0.05}


def _int(label, initial, low, high, **kwargs):
    return forms.IntegerField(label=label, initial=initial, min_value=low, max_value=high, **kwargs)


class ReleaseForm(forms.Form):
    target = forms.TypedChoiceField(label=_("Target revision"), coerce=int)
    description = forms.CharField(label=_("Description"), required=False, max_length=2000,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    beta_pods = _int(_("Beta pods"), 1, 0, 1000, help_text=_("Pods updated first, in one cell (0: no beta step)."))
    beta_cell = forms.ChoiceField(label=_("Beta cell"), required=False)
    grouping = forms.ChoiceField(label=_("Groups"), choices=GROUPINGS, initial="cell",
                                 help_text=_("Never two zones at the same time."))
    batches = forms.CharField(label=_("Batches per group"), initial="50%, 100%", max_length=200,
                              help_text=_("Cumulative pod counts or percentages, the last one all pods: "
                                          "“1, 50%, 100%”."))
    confirm = forms.ChoiceField(label=_("Between steps"), choices=CONFIRM, initial="manual")
    wait_seconds = _int(_("Wait before each step"), 0, 0, 86400, required=False)
    lossless = forms.BooleanField(label=_("Lossless: take each pod out of traffic before updating it"),
                                  required=False, initial=True)
    drain_seconds = _int(_("Drain"), 2, 0, 3600, required=False)
    warmup_seconds = _int(_("Warm-up"), 1, 0, 3600, required=False)
    min_ready_ratio = forms.FloatField(label=_("Minimum ready ratio"), initial=1.0, min_value=0, max_value=1)
    no_restarts = forms.BooleanField(label=_("No pod restarting"), required=False, initial=True)
    prometheus_url = forms.URLField(label=_("Prometheus URL"), required=False, max_length=500,
                                    assume_scheme="http",
                                    help_text=_("Empty: the platform's (the simulator's) Prometheus API."))
    timeout_seconds = _int(_("Gate timeout"), 300, 1, 86400)
    on_gate_failure = forms.ChoiceField(label=_("When a gate fails"), choices=ON_FAILURE, initial="pause")

    def __init__(self, *args, revisions=(), cells=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [(r.pk, _("r%(n)s · %(comment)s") % {"n": r.number, "comment": r.comment or "—"})
                                         for r in revisions]
        self.fields["beta_cell"].choices = [("", _("The first cell in order"))] + [(c, c) for c in cells]
        for i in range(MAX_METRICS):
            self.fields[f"metric_name_{i}"] = forms.CharField(label=_("Name"), required=False, max_length=100)
            self.fields[f"metric_query_{i}"] = forms.CharField(label=_("PromQL query"), required=False, max_length=2000)
            self.fields[f"metric_op_{i}"] = forms.ChoiceField(label=_("Comparison"), choices=OPS, required=False)
            self.fields[f"metric_threshold_{i}"] = forms.FloatField(label=_("Threshold"), required=False)
        self.fields["metric_name_0"].widget.attrs["placeholder"] = DEFAULT_METRIC["name"]
        self.fields["metric_query_0"].widget.attrs["placeholder"] = DEFAULT_METRIC["query"]
        self.fields["metric_threshold_0"].widget.attrs["placeholder"] = DEFAULT_METRIC["threshold"]

    def metric_rows(self) -> list[dict]:
        rows = []
        for i in range(MAX_METRICS):
            row = {key: self[f"metric_{key}_{i}"] for key in ("name", "query", "op", "threshold")}
            filled = any(str(field.value() or "").strip() for field in (row["name"], row["query"]))
            row["index"], row["filled"] = i, filled or i == 0
            row["errors"] = [e for field in row.values() if hasattr(field, "errors") for e in field.errors]
            rows.append(row)
        return rows

    def clean_batches(self):
        parts = [p.strip() for p in self.cleaned_data["batches"].split(",") if p.strip()]
        if not parts:
            raise forms.ValidationError(_("Give at least one batch, e.g. “100%”."))
        batches = []
        for part in parts:
            match = _BATCH.match(part)
            if not match:
                raise forms.ValidationError(_("“%(part)s” is neither a pod count nor a percentage.") % {"part": part})
            batches.append(part if match.group(2) else int(match.group(1)))
        return batches

    def clean(self):
        data = super().clean()
        for i in range(MAX_METRICS):
            name, query = (data.get(f"metric_name_{i}") or "").strip(), (data.get(f"metric_query_{i}") or "").strip()
            if (name or query) and not query:
                self.add_error(f"metric_query_{i}", _("Give the PromQL query of this metric."))
            if query and data.get(f"metric_threshold_{i}") is None and f"metric_threshold_{i}" not in self.errors:
                self.add_error(f"metric_threshold_{i}", _("Give the threshold the value is compared with."))
        return data

    def options(self) -> dict:
        """CONTRACTS C: the options dict the services validate."""
        d = self.cleaned_data
        metrics, self.metric_index = [], []
        for i in range(MAX_METRICS):
            query = (d.get(f"metric_query_{i}") or "").strip()
            if query:
                self.metric_index.append(i)  # the services number the rows sent, without the empty ones
                metrics.append({"name": (d.get(f"metric_name_{i}") or "").strip() or f"metric {i + 1}",
                                "query": query, "op": d.get(f"metric_op_{i}") or "<",
                                "threshold": d.get(f"metric_threshold_{i}")})
        return {
            "beta": {"pods": d["beta_pods"], "cell": d.get("beta_cell") or None},
            "grouping": d["grouping"], "batches": d["batches"], "confirm": d["confirm"],
            "wait_seconds": d.get("wait_seconds") or 0, "lossless": bool(d.get("lossless")),
            "drain_seconds": d.get("drain_seconds") or 0, "warmup_seconds": d.get("warmup_seconds") or 0,
            "gates": {"min_ready_ratio": d["min_ready_ratio"], "no_restarts": bool(d.get("no_restarts")),
                      "prometheus_url": d.get("prometheus_url") or "", "metrics": metrics,
                      "timeout_seconds": d["timeout_seconds"]},
            "on_gate_failure": d["on_gate_failure"],
        }

    # Where an error the services name lands: "gates.metrics[1].query" -> metric_query_1.
    _FIELD = re.compile(r"^(?:options\.)?gates\.metrics\[(\d+)\]\.(name|query|op|threshold)$")
    _ALIASES = {"beta.pods": "beta_pods", "beta.cell": "beta_cell", "beta": "beta_pods",
                "gates.min_ready_ratio": "min_ready_ratio", "gates.prometheus_url": "prometheus_url",
                "gates.timeout_seconds": "timeout_seconds", "gates.no_restarts": "no_restarts",
                "gates.metrics": "metric_query_0", "target": "target"}

    def add_domain_error(self, exc) -> None:
        field = (exc.field or "").strip()
        field = field[len("options."):] if field.startswith("options.") else field
        match = self._FIELD.match(field)
        if match:
            sent = int(match.group(1))
            index = getattr(self, "metric_index", [])
            name = f"metric_{match.group(2)}_{index[sent] if sent < len(index) else sent}"
        else:
            field = re.sub(r"\[\d+\]$", "", field)  # "batches[1]": the batches field
            name = self._ALIASES.get(field, field.replace(".", "_"))
        self.add_error(name if name in self.fields else None, exc.message)

"""Input-bounds benchmark: what hostile and large documents cost the web process.

    python manage.py bench --only input

For each document: wall time (best of 3) and peak traced memory of the API's JSON
parser or the bounded YAML loader, whether it accepts or refuses (paas.safeinput).
DRF's stock JSONParser is shown alongside for the ordinary bodies it can parse.
"""
import io
import json
import time
import tracemalloc

import yaml
from rest_framework.parsers import JSONParser

from paas import safeinput
from paas.api.parsers import SafeJSONParser
from paas.errors import DomainError


def _laughs(levels: int) -> str:
    names = "abcdefghijklmnop"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{names[i]}: &{names[i]} [" + ",".join([f"*{names[i - 1]}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _json_cases() -> list[tuple[str, bytes]]:
    pod = {"name": "c", "image": "nginx:1.25", "env": [{"name": "A", "value": "x" * 20}] * 5}
    return [
        ("create body (300 B)", json.dumps({"environment": "prod", "template": {"kind": "Deployment",
                                                                                "spec": {"replicas": 3}}}).encode()),
        ("k8s-like list (2.6 MB)", json.dumps({"items": [pod] * 9000}).encode()),
        ("1.2M integers (2.4 MB)", ("[" + ",".join(["0"] * 1_200_000) + "]").encode()),
        ("nested 5,000", ('{"t":' + "[" * 5000 + "]" * 5000 + "}").encode()),
        ("nested 100,000", ('{"t":' + "[" * 100_000 + "]" * 100_000 + "}").encode()),
        ("lone surrogate", b'{"t": {"image": "\\ud800"}}'),
        ("NUL", b'{"t": {"image": "a\\u0000b"}}'),
        ("10^30", b'{"t": {"replicas": 1' + b"0" * 30 + b"}}"),
    ]


def _measure(fn) -> tuple[str, float, float]:
    best, outcome = float("inf"), ""
    for _ in range(3):
        start = time.perf_counter()
        try:
            fn()
            outcome = "accepted"
        except (DomainError, yaml.YAMLError, ValueError) as exc:
            outcome = f"refused ({type(exc).__name__})"
        except RecursionError:
            outcome = "RecursionError (500)"
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    try:
        fn()
    except (DomainError, yaml.YAMLError, ValueError, RecursionError):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, best * 1000, peak / 1e6


def run(out=print) -> None:
    out(f"{'document':28} {'parser':14} {'outcome':28} {'ms':>9} {'peak MB':>8}")
    for label, body in _json_cases():
        for name, parser in (("DRF JSONParser", JSONParser), ("SafeJSONParser", SafeJSONParser)):
            outcome, ms, peak = _measure(lambda body=body, parser=parser: parser().parse(io.BytesIO(body),
                                                                                       parser_context={}))
            out(f"{label:28} {name:14} {outcome:28} {ms:9.2f} {peak:8.2f}")
    for levels in (6, 9):
        doc = _laughs(levels)
        outcome, ms, peak = _measure(lambda doc=doc: safeinput.load_yaml(doc, "template"))
        out(f"{f'YAML laughs {levels} lv ({len(doc)} B)':28} {'load_yaml':14} {outcome:28} {ms:9.2f} {peak:8.2f}")
    deep = "a: " + "[" * 100_000
    outcome, ms, peak = _measure(lambda: safeinput.load_yaml(deep, "template"))
    out(f"{'YAML nested 100,000':28} {'load_yaml':14} {outcome:28} {ms:9.2f} {peak:8.2f}")


if __name__ == "__main__":
    import django

    django.setup()
    run()

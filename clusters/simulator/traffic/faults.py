"""Metric faults: pods running an image that matches (a substring of its reference) report
a bad error ratio and/or latency, and the request generator answers that share of
their requests with application errors — a bad release as health gates should see it."""
from __future__ import annotations

from dataclasses import dataclass

MAX_FAULTS = 100


class FaultError(ValueError):
    pass


@dataclass(frozen=True)
class MetricFault:
    image: str
    error_ratio: float | None = None
    latency_seconds: float | None = None

    def to_dict(self) -> dict:
        return {"image": self.image, "error_ratio": self.error_ratio, "latency_seconds": self.latency_seconds}


def _number(data: dict, name: str, low: float, high: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise FaultError(f"{name} must be a number from {low:g} to {high:g}")
    return float(value)


def parse_fault(data) -> MetricFault:
    if not isinstance(data, dict):
        raise FaultError("expected a JSON object")
    unknown = set(data) - {"image", "error_ratio", "latency_seconds"}
    if unknown:
        raise FaultError(f"unknown fields: {', '.join(sorted(unknown))}")
    image = data.get("image")
    if not isinstance(image, str) or not image.strip() or len(image) > 512:
        raise FaultError("image must be a non-empty image reference or substring (at most 512 characters)")
    fault = MetricFault(image.strip(), _number(data, "error_ratio", 0, 1), _number(data, "latency_seconds", 0, 600))
    if fault.error_ratio is None and fault.latency_seconds is None:
        raise FaultError("give error_ratio and/or latency_seconds")
    return fault


class MetricFaults:
    def __init__(self):
        self.faults: dict[str, MetricFault] = {}  # image -> fault; a new one for the same image replaces it

    def add(self, fault: MetricFault) -> None:
        if fault.image not in self.faults and len(self.faults) >= MAX_FAULTS:
            raise FaultError(f"at most {MAX_FAULTS} faults; clear them first")
        self.faults[fault.image] = fault

    def clear(self) -> None:
        self.faults.clear()

    def for_image(self, image: str) -> MetricFault | None:
        for fault in self.faults.values():
            if fault.image in image:
                return fault
        return None

    def for_images(self, images) -> MetricFault | None:
        for image in images:
            fault = self.for_image(image)
            if fault is not None:
                return fault
        return None

    def to_list(self) -> list[dict]:
        return [f.to_dict() for f in self.faults.values()]

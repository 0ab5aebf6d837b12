"""Fault injection settings for one simulated cluster.

The product must survive slow, flaky and dead clusters; these knobs make one cluster
slow (``latency_ms``), flaky (``error_rate_500`` / ``error_rate_429`` as fractions of
requests) or dead (``down``: its listening socket is closed so clients get "connection
refused", and open connections are dropped). They are set through the admin port, which
stays up while a cluster is down.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from .errors import ApiError, internal_error, too_many_requests


@dataclass
class Faults:
    latency_ms: float = 0.0
    error_rate_500: float = 0.0
    error_rate_429: float = 0.0
    down: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    def update(self, data: dict) -> None:
        """Apply a partial update; raises ValueError with a readable message on bad input."""
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        unknown = set(data) - set(asdict(self))
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        if "latency_ms" in data:
            value = data["latency_ms"]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError("latency_ms must be a non-negative number")
            self.latency_ms = float(value)
        for field in ("error_rate_500", "error_rate_429"):
            if field in data:
                value = data[field]
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                    raise ValueError(f"{field} must be a number between 0 and 1")
                setattr(self, field, float(value))
        if "down" in data:
            if not isinstance(data["down"], bool):
                raise ValueError("down must be true or false")
            self.down = data["down"]
        if self.error_rate_500 + self.error_rate_429 > 1:
            raise ValueError("error_rate_500 + error_rate_429 must not exceed 1")

    def roll(self) -> ApiError | None:
        """The injected error for one request, if the dice say so."""
        if not (self.error_rate_500 or self.error_rate_429):
            return None
        draw = random.random()
        if draw < self.error_rate_500:
            return internal_error("simulated fault")
        if draw < self.error_rate_500 + self.error_rate_429:
            return too_many_requests()
        return None

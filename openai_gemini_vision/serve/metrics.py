"""The gateway's counters and gauges, exposed at `GET /metrics` in Prometheus' text format.

Written by hand rather than with `prometheus_client`: the gateway needs a dozen plain
counters and two gauges, per app (tests build many apps in one process, which
`prometheus_client`'s process-wide default registry would have to be kept out of), and
the text format for them is a few lines (https://prometheus.io/docs/instrumenting/exposition_formats/).
Everything is updated from the event loop's thread, so no lock is needed; with
`--workers N` each worker counts its own requests, as with any multi-process server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from ..images.prepared import PreparedImage

__all__ = ["CONTENT_TYPE", "Metrics", "image_changes"]

#: The media type Prometheus scrapers ask for (text format 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Pillow's names of the formats Gemini takes as they are (MPO: a JPEG with extra frames).
_GEMINI_FORMATS = frozenset({"PNG", "JPEG", "MPO", "WEBP", "HEIF", "HEIC"})


def image_changes(image: PreparedImage) -> tuple[bool, bool]:
    """(converted, fitted): given in a type Gemini refuses, and shrunk for the budget."""
    converted = image.original_format.upper() not in _GEMINI_FORMATS
    fitted = any("request budget" in change for change in image.changes)
    return converted, fitted


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class Metrics:
    """Counters of one app, and the gauges it reads when scraped."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.errors: Counter[tuple[int, str]] = Counter()
        self.images = 0
        self.images_converted = 0
        self.images_fitted = 0
        self.tokens_estimated = 0
        self.tokens_reported = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.duration_sum = 0.0
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """Report `read()` as gauge `name` on every scrape."""
        self.gauges[name] = (help_text, read)

    def request_done(self, route: str, status: int, seconds: float, nbytes: int) -> None:
        """Count a finished request (any status) and the bytes it sent back."""
        self.requests[route, status] += 1
        self.duration_sum += seconds
        self.bytes_out += nbytes

    def error(self, status: int, code: str | None) -> None:
        """Count an error answer by status and code."""
        self.errors[status, code or ""] += 1

    def prepared(self, images: Iterable[PreparedImage], estimated_tokens: int) -> None:
        """Count a prepared request's images and its estimated prompt tokens."""
        for image in images:
            converted, fitted = image_changes(image)
            self.images += 1
            self.images_converted += converted
            self.images_fitted += fitted
        self.tokens_estimated += estimated_tokens

    def render(self) -> bytes:
        """Everything in Prometheus' text format."""
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")

        family("ogv_requests_total", "counter", "Requests answered, by route and status.")
        for (route, status), count in sorted(self.requests.items()):
            lines.append(
                f'ogv_requests_total{{route="{_escape(route)}",status="{status}"}} {count}'
            )
        family("ogv_errors_total", "counter", "Error answers, by status and error code.")
        for (status, code), count in sorted(self.errors.items()):
            lines.append(f'ogv_errors_total{{status="{status}",code="{_escape(code)}"}} {count}')
        family("ogv_request_duration_seconds_total", "counter", "Seconds spent on requests.")
        lines.append(f"ogv_request_duration_seconds_total {self.duration_sum:.6f}")
        plain = [
            ("ogv_images_total", "Images prepared.", self.images),
            ("ogv_images_converted_total", "Images converted to a type Gemini takes.", self.images_converted),
            ("ogv_images_fitted_total", "Images shrunk to fit the request budget.", self.images_fitted),
            ("ogv_prompt_tokens_estimated_total", "Prompt tokens estimated before sending.", self.tokens_estimated),
            ("ogv_prompt_tokens_reported_total", "Prompt tokens the upstream reported.", self.tokens_reported),
            ("ogv_request_bytes_total", "Request body bytes received.", self.bytes_in),
            ("ogv_response_bytes_total", "Response body bytes sent.", self.bytes_out),
        ]  # fmt: skip
        for name, help_text, value in plain:
            family(name, "counter", help_text)
            lines.append(f"{name} {value}")
        for name, (help_text, read) in self.gauges.items():
            family(name, "gauge", help_text)
            lines.append(f"{name} {read():g}")
        return ("\n".join(lines) + "\n").encode()

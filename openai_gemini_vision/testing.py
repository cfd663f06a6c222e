"""Recording and replaying your own cassettes with image payloads kept small and readable."""
# CONTRACT STUB: filled in by the client work (issue 4).

from __future__ import annotations

__all__: list[str] = []

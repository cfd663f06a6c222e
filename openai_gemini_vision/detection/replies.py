"""Finding the detections in a model's reply: JSON in whatever wrapping models put it.

Models asked for boxes answer with a bare JSON list, a Markdown fence, an object holding
the list, prose before and after, Python-style quotes, or a list cut off by the token
limit. This module finds the list in all of these and checks each entry; turning the
boxes into pixels is `detection`'s job.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterator
from typing import Any

from ..errors import DetectionParseError, DetectionWarning

__all__ = [
    "BOX_KEY",
    "LABEL_KEYS",
    "DetectionWarning",
    "Entry",
    "Record",
    "extract_entries",
    "extract_records",
]

#: The key of Gemini's boxes (Google's docs, "Object detection").
BOX_KEY = "box_2d"
#: Keys read as the label, in order of preference.
LABEL_KEYS = ("label", "name", "object")

Entry = tuple[str, tuple[float, float, float, float]]
"""A label and `[ymin, xmin, ymax, xmax]` as read, not yet ordered or clamped."""

Record = tuple[str, tuple[float, float, float, float], dict[str, Any]]
"""An `Entry` and the whole object it was read from (for other keys, such as "mask")."""

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
# Enough to find the list after a few bracketed words of prose, without trying every
# bracket of a long reply.
_MAX_STARTS = 64
# ast.literal_eval is safe (no code runs) but slow and recursive on huge input.
_MAX_LITERAL = 1_000_000
_SHOWN = 200

_FIX = (
    'Ask for a JSON list like [{"box_2d": [ymin, xmin, ymax, xmax], "label": "cat"}] '
    "with values normalized to 0-1000 (detect() does), and pass the reply's text "
    "(response.choices[0].message.content)."
)


def _entries_word(n: int) -> str:
    return f"{n} {'entry' if n == 1 else 'entries'}"


def _shown(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= _SHOWN else f"{flat[:_SHOWN]}...")


def _segments(text: str) -> Iterator[str]:
    """Where JSON may be: each Markdown fence (JSON-labelled first), then the whole text."""
    fences = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    yield from (body for lang, body in fences if lang in {"json", "json5", "jsonc"})
    yield from (body for lang, body in fences if lang not in {"json", "json5", "jsonc"})
    yield text


def _literal(text: str) -> Any:
    """Python-literal reading: single quotes and trailing commas, and nothing executable."""
    if len(text) > _MAX_LITERAL:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _salvage(text: str, start: int) -> tuple[list[Any], str | None] | None:
    """The JSON elements of a list at `start`, read one by one: stray commas are skipped,
    and a list cut off short keeps its complete elements (with a note saying so)."""
    decoder = json.JSONDecoder()
    items: list[Any] = []
    pos = start + 1
    while True:
        while pos < len(text) and (text[pos].isspace() or text[pos] == ","):
            pos += 1
        if pos < len(text) and text[pos] == "]":
            return (items, None) if items else None
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
        items.append(item)
    if not items:
        return None
    return items, (
        f"The reply was cut off after {_entries_word(len(items))} ({_shown(text[pos:])} "
        "was left unread); raise max_tokens / max_completion_tokens for the rest."
    )


def _values(segment: str) -> Iterator[tuple[Any, str | None]]:
    """Every JSON-ish value in `segment`, most likely first, each with a note if cut off."""
    text = segment.strip()
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        pass
    else:
        yield whole, None
    decoder = json.JSONDecoder()
    starts = [m.start() for m in re.finditer(r"[\[{]", text)][:_MAX_STARTS]
    for start in starts:
        try:
            value = decoder.raw_decode(text, start)[0]
        except json.JSONDecodeError:
            pass
        else:
            yield value, None
            continue
        end = text.rfind("]" if text[start] == "[" else "}")
        if end > start:
            value = _literal(text[start : end + 1])
            if value is not None:
                yield value, None
                continue
        if text[start] == "[" and (salvaged := _salvage(text, start)) is not None:
            yield salvaged


def _is_box(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 4
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def _list_in(value: Any, depth: int = 0) -> list[Any] | None:
    """The list of detection entries `value` holds, or None when it holds none."""
    if isinstance(value, list):
        if all(isinstance(item, dict) for item in value):
            return value
        return None
    if not isinstance(value, dict) or depth > 1:
        return None
    if BOX_KEY in value:
        return [value]
    if value and all(_is_box(v) for v in value.values()):
        # {"cat": [ymin, xmin, ymax, xmax], ...}: the labels are the keys.
        return [{"label": key, BOX_KEY: box} for key, box in value.items()]
    for inner in value.values():  # {"objects": [...]}, {"detections": [...]}, ...
        found = _list_in(inner, depth + 1) if isinstance(inner, list | dict) else None
        if found is not None and (not found or any(BOX_KEY in item for item in found)):
            return found
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int of hundreds of digits
            return None
        return number if math.isfinite(number) else None
    return None


def _box(value: Any) -> tuple[float, float, float, float] | str:
    """Four finite numbers from a list of numbers or numeric strings, or why not."""
    if isinstance(value, str):  # "[10, 20, 30, 40]" or "10, 20, 30, 40"
        value = [part for part in re.split(r"[\s,]+", value.strip().strip("[]()")) if part]
    if not isinstance(value, list | tuple):
        return f"is {type(value).__name__}, not a list"
    if len(value) != 4:
        return f"has {len(value)} values, not 4"
    numbers = [_number(v) for v in value]
    if any(n is None for n in numbers):
        return "holds something other than numbers"
    ymin, xmin, ymax, xmax = (n for n in numbers if n is not None)
    return ymin, xmin, ymax, xmax


def _label(item: dict[str, Any]) -> str:
    for key in LABEL_KEYS:
        value = item.get(key)
        if value is not None:
            return value if isinstance(value, str) else str(value)
    return ""


def _entries(items: list[Any]) -> tuple[list[Record], list[str]]:
    if items and not any(BOX_KEY in item for item in items):
        keys = sorted({str(key) for item in items for key in item})
        raise DetectionParseError(
            f"The reply lists {_entries_word(len(items))} but none has a {BOX_KEY!r} (keys found: "
            f"{', '.join(keys) or 'none'}). {_FIX}"
        )
    entries: list[Record] = []
    skipped: list[str] = []
    for number, item in enumerate(items, 1):
        box = _box(item.get(BOX_KEY))
        if isinstance(box, str):
            skipped.append(
                f"Skipped entry {number} of {len(items)}: its {BOX_KEY} {_shown(repr(item.get(BOX_KEY)))} "
                f"{box}; it should be [ymin, xmin, ymax, xmax] on 0..1000."
            )
            continue
        entries.append((_label(item), box, item))
    return entries, skipped


def extract_entries(text: str | None) -> tuple[list[Entry], list[str]]:
    """The entries found in a reply, and one sentence per entry skipped as malformed.

    Raises DetectionParseError when the reply holds no list of detections at all.
    """
    records, skipped = extract_records(text)
    return [(label, box) for label, box, _ in records], skipped


def extract_records(text: str | None) -> tuple[list[Record], list[str]]:
    """`extract_entries`, each entry with the object it was read from (its "mask", ...)."""
    if not isinstance(text, str):
        raise DetectionParseError(
            f"Expected the reply's text (a str), got {type(text).__name__}. {_FIX}"
        )
    found_json = False
    for segment in _segments(text):
        for value, cut_off in _values(segment):
            found_json = True
            items = _list_in(value)
            if items is not None:
                entries, skipped = _entries(items)
                return entries, [*skipped, cut_off] if cut_off else skipped
    what = "no list of detections in its JSON" if found_json else "no JSON"
    raise DetectionParseError(
        f"The reply holds {what}; received {len(text):,} characters: {_shown(text)}. {_FIX}"
    )

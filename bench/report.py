"""The results table: one row per alternative, ours beside it, the ratio and the target."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Row", "mb", "ms", "ratio", "show", "table"]


@dataclass(frozen=True)
class Row:
    """Our figure beside one alternative's; `target` and `met` only where the suite sets one."""

    workload: str
    ours: str
    alternative: str
    ratio: str = "—"
    target: str = "—"
    met: bool | None = None


def ms(milliseconds: float) -> str:
    """A duration for the table: ms below ten seconds, else s."""
    if milliseconds >= 10_000:
        return f"{milliseconds / 1000:.1f} s"
    return f"{milliseconds:,.1f} ms" if milliseconds < 100 else f"{milliseconds:,.0f} ms"


def mb(size: int) -> str:
    """A byte count for the table, in decimal MB (Gemini's 20 MB limit is decimal)."""
    return f"{size / 1e6:,.1f} MB" if size >= 100_000 else f"{size / 1e3:,.1f} kB"


def ratio(ours: float, theirs: float) -> str:
    """Ours over theirs: "1.08x", or "1/850" where two decimals would round it to nothing."""
    if not theirs or not ours:
        return "—"
    share = ours / theirs
    return f"{share:.2f}x" if share >= 0.1 else f"1/{1 / share:,.0f}"


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table; a workload is named once, on its first row."""
    lines = [
        "| workload | ours | alternative | ours / alternative | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    previous = None
    for row in rows:
        name = row.workload if row.workload != previous else ""
        previous = row.workload
        met = "—" if row.met is None else "yes" if row.met else "**no**"
        cells = (name, row.ours, row.alternative, row.ratio, row.target, met)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def show(rows: list[Row]) -> int:
    """Print the rows as a table; the exit status: 1 if a target is missed, else 0."""
    print(table(rows))
    return 1 if any(row.met is False for row in rows) else 0

"""Bar charts of a ballot's result and its count's rounds, laid out for server-side SVG.

Pure: figures in, bar geometry out; ``templates/ballots/_chart.html`` draws it. No script,
no external service: the chart is part of the page, and the page's table says the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 320  # the drawing's own units; the SVG scales to the column it is in
PLOT = 250  # the longest bar, leaving room for its figure after it
ROW = 38  # each option: its name above, its bar below
BAR = 16
LABEL_CHARS = 46  # what fits across the drawing; the table and the summary keep the whole name


@dataclass(frozen=True)
class Bar:
    """One option's bar: where it is drawn and what it says."""

    label: str
    value: float
    shown: str  # the figure as written beside the bar
    y: int  # top of the row
    length: float  # bar length in drawing units
    winner: bool


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart: one bar per option, the same scale throughout."""

    title: str
    summary: str  # every bar in words, for those who do not see the drawing
    bars: list[Bar]
    width: int
    height: int
    bar_height: int = BAR


def _shown(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def bar_chart(
    title: str,
    rows: Sequence[tuple[str, float]],
    winners: Sequence[int] = (),
    scale: float | None = None,
) -> Chart:
    """Lay out ``rows`` of (label, value) as bars; ``scale`` fixes the value of a full bar."""
    top = max([scale or 0, *(value for _, value in rows), 0])
    bars = [
        Bar(
            label=label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…",
            value=value,
            shown=_shown(value),
            y=i * ROW,
            length=round(PLOT * value / top, 2) if top else 0,
            winner=i in winners,
        )
        for i, (label, value) in enumerate(rows)
    ]
    summary = "; ".join(f"{label}: {bar.shown}" for (label, _), bar in zip(rows, bars, strict=True))
    return Chart(title, summary, bars, WIDTH, max(ROW * len(bars), ROW))


def result_chart(labels: Sequence[str], result: dict[str, Any], ranked: bool) -> Chart:
    """Chart a closed ballot's votes per option (first preferences when ranked)."""
    votes = result.get("votes") or [0] * len(labels)
    winners = (result.get("winners") or []) if result.get("quorum_met", True) else []
    title = "First preferences per candidate" if ranked else "Votes per option"
    return bar_chart(title, list(zip(labels, votes, strict=False)), winners)


def round_charts(labels: Sequence[str], rounds: Sequence[dict[str, Any]]) -> list[Chart]:
    """Chart each round of a single transferable vote count, all on one scale."""
    per_round = [
        [(label, float(found["votes"].get(str(p), 0))) for p, label in enumerate(labels)]
        for found in rounds
    ]
    top = max((value for rows in per_round for _, value in rows), default=0)
    charts = []
    for found, rows in zip(rounds, per_round, strict=True):
        elected = [int(p) for p in found.get("elected", [])]
        charts.append(bar_chart(f"Round {found['round']}", rows, elected, scale=top))
    return charts

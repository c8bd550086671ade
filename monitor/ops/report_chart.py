"""The report's chart: matches per week as grouped SVG bars, drawn here (no library, no script).

Every label is escaped; the SVG carries no URL, not even a namespace (inline SVG in HTML
needs none).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from monitor.alerts.cutting import cut_utf16
from monitor.eventlog.queries.activity import Weekly
from monitor.feeds.text import visible_text as clean

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
WIDTH, PLOT_HEIGHT, LEFT, RIGHT, LEGEND_LINE = 960, 260, 56, 16, 20


def text(value: object, limit: int = 300) -> str:
    """Stored text for the page: control characters dropped, cut, escaped."""
    return html.escape(cut_utf16(clean(str(value or "")), limit))


def nice_step(top: int, ticks: int = 5) -> int:
    """The smallest step of 1, 2 or 5 times a power of ten that covers `top` in `ticks` steps."""
    power = 1
    while True:
        for step in (power, 2 * power, 5 * power):
            if step * ticks >= top:
                return step
        power *= 10


@dataclass(frozen=True)
class Frame:
    """The chart's geometry: the plot's top edge, the y scale and the widths of weeks and bars."""

    top: int
    step: int
    y_max: int
    week: float
    bar: float

    @property
    def height(self) -> int:
        return self.top + PLOT_HEIGHT + 56

    def y(self, value: float) -> float:
        return self.top + PLOT_HEIGHT * (1 - value / self.y_max)


def frame_for(data: Weekly) -> Frame:
    top = max((max(v) for v in data.series.values()), default=0) or 1
    step = nice_step(top)
    week = (WIDTH - LEFT - RIGHT) / max(len(data.weeks), 1)
    return Frame(
        top=16 + LEGEND_LINE * max(len(data.series), 1),
        step=step,
        y_max=step * -(-top // step),
        week=week,
        bar=week * 0.8 / max(len(data.series), 1),
    )


def _grid(frame: Frame) -> str:
    return "".join(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{frame.y(tick):.1f}" y2="{frame.y(tick):.1f}"'
        f' stroke="#e5e5e5"/><text x="{LEFT - 6}" y="{frame.y(tick) + 4:.1f}"'
        f' text-anchor="end">{tick}</text>'
        for tick in range(0, frame.y_max + 1, frame.step)
    )


def _week_labels(frame: Frame, weeks: Sequence[date]) -> str:
    every = -(-len(weeks) // 14)  # about 14 labels at most, so that they never overlap
    return "".join(
        f'<text x="{LEFT + frame.week * (n + 0.5):.1f}" y="{frame.y(0) + 18:.1f}"'
        f' text-anchor="middle">{week:%d %b}</text>'
        for n, week in enumerate(weeks)
        if n % every == 0
    )


def _series(frame: Frame, index: int, name: str, data: Weekly) -> str:
    bars = "".join(
        f'<rect class="bar" x="{LEFT + frame.week * (n + 0.1) + frame.bar * index:.1f}"'
        f' y="{frame.y(count):.1f}" width="{frame.bar:.1f}"'
        f' height="{frame.y(0) - frame.y(count):.1f}"><title>{text(name)}, week of'
        f" {data.weeks[n]:%Y-%m-%d}: {count}</title></rect>"
        for n, count in enumerate(data.series[name])
        if count
    )
    colour = COLOURS[index % len(COLOURS)]
    return f'<g class="series" data-rule="{text(name)}" fill="{colour}">{bars}</g>'


def _legend(index: int, label: str, total: int) -> str:
    y = 12 + LEGEND_LINE * index
    return (
        f'<rect class="swatch" x="{LEFT}" y="{y}" width="14" height="14"'
        f' fill="{COLOURS[index % len(COLOURS)]}"/>'
        f'<text x="{LEFT + 20}" y="{y + 12}">{text(label, 110)} ({total})</text>'
    )


def _axes(frame: Frame) -> str:
    return (
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{frame.y(0)}" y2="{frame.y(0)}"'
        f' stroke="#444"/><text x="{WIDTH / 2}" y="{frame.height - 12}" text-anchor="middle">'
        "Week starting (Monday, UTC)</text>"
        f'<text transform="translate(16 {frame.y(frame.y_max / 2):.1f}) rotate(-90)"'
        ' text-anchor="middle">Matched entries</text>'
    )


def chart_svg(data: Weekly, titles: Mapping[str, str]) -> str:
    """Grouped bars: one group per week, one bar colour (and legend line) per series."""
    frame = frame_for(data)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {frame.height}" width="100%" role="img"'
        ' aria-label="Matches per topic per week">',
        _grid(frame),
        _week_labels(frame, data.weeks),
    ]
    for index, (name, counts) in enumerate(data.series.items()):
        parts.append(_series(frame, index, name, data))
        parts.append(_legend(index, titles.get(name, name), sum(counts)))
    if not data.series:
        parts.append(f'<text x="{LEFT + 10}" y="{frame.y(0.5)}">No matches in this period.</text>')
    parts.append(_axes(frame) + "</svg>")
    return "".join(parts)

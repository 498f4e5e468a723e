"""Server-rendered SVG charts (no JavaScript): a line chart and a grouped bar chart.

Pure functions from numbers and labels to SVG markup; every text is escaped. The markup has a
``<title>`` and ``role="img"`` with ``aria-label`` so screen readers announce it, and each
data point a ``<title>`` tooltip.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 640, 220, 36
COLOURS = ("#1f6feb", "#d97706", "#16a34a", "#9333ea")


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:,.2f}"


def line_chart(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]
) -> str:
    top = max((max(values, default=0.0) for _, values in series), default=0.0) or 1.0
    n = max(len(labels), 1)
    step = (WIDTH - 2 * PAD) / max(n - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return PAD + i * step, HEIGHT - PAD - (HEIGHT - 2 * PAD) * v / top

    parts = [
        f'<svg class="chart" data-chart="line" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="currentColor" stroke-opacity=".3"/>',
        f'<text x="{PAD}" y="{PAD - 10}" font-size="11" fill="currentColor">{_fmt(top)}</text>',
    ]
    for k, (name, values) in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in enumerate(values)))
        parts.append(
            f'<polyline class="series" data-series="{escape(name)}" fill="none" '
            f'stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        for i, v in enumerate(values):
            x, y = xy(i, v)
            label = labels[i] if i < len(labels) else ""
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
                f"<title>{escape(name)} {escape(label)}: {_fmt(v)}</title></circle>"
            )
        parts.append(
            f'<text x="{PAD + 120 * k}" y="{HEIGHT - 8}" font-size="12" fill="{colour}">'
            f"■ {escape(name)}</text>"
        )
    if labels:
        parts.append(
            f'<text x="{PAD}" y="{HEIGHT - PAD + 14}" font-size="11" fill="currentColor">'
            f"{escape(labels[0])}</text>"
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 14}" font-size="11" '
            f'text-anchor="end" fill="currentColor">{escape(labels[-1])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]
) -> str:
    top = max((max(values, default=0.0) for _, values in series), default=0.0) or 1.0
    groups = max(len(labels), 1)
    group_width = (WIDTH - 2 * PAD) / groups
    bar = group_width * 0.8 / max(len(series), 1)
    parts = [
        f'<svg class="chart" data-chart="bar" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="currentColor" stroke-opacity=".3"/>',
    ]
    for g, label in enumerate(labels):
        for k, (name, values) in enumerate(series):
            v = values[g] if g < len(values) else 0.0
            h = (HEIGHT - 2 * PAD) * v / top
            x = PAD + g * group_width + group_width * 0.1 + k * bar
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[k % len(COLOURS)]}">'
                f"<title>{escape(label)} — {escape(name)}: {_fmt(v)}</title></rect>"
            )
        parts.append(
            f'<text x="{PAD + (g + 0.5) * group_width:.1f}" y="{HEIGHT - PAD + 14}" '
            f'font-size="11" text-anchor="middle" fill="currentColor">{escape(label[:18])}</text>'
        )
    for k, (name, _) in enumerate(series):
        parts.append(
            f'<text x="{PAD + 120 * k}" y="{HEIGHT - 6}" font-size="12" '
            f'fill="{COLOURS[k % len(COLOURS)]}">■ {escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)

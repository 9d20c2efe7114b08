"""Server-drawn charts as inline SVG: grouped bars and a heat map (no chart library, no JavaScript).

Every text (labels, titles) is escaped; colours come from CSS classes (``chart-s0``…,
``heat``) in ``static/css/admin.css``, so nothing needs an inline ``style`` attribute
(the CSP allows none). Each bar and cell carries a ``<title>`` with its exact value, so
hovering shows it and a screen reader reads it; the table beside each chart holds the
same numbers.
"""
from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup
from markupsafe import escape


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, title: str,
              width: int = 720, height: int = 200) -> Markup:
    """Grouped vertical bars: one group per label, one bar per series (``(name, values)``)."""
    pad_left, pad_bottom, pad_top = 40, 22, 8
    plot_w, plot_h = width - pad_left - 4, height - pad_bottom - pad_top
    top = max([v for _, values in series for v in values] + [0])
    scale = plot_h / top if top else 0.0
    group_w = plot_w / max(1, len(labels))
    bar_w = max(1.0, (group_w * 0.8) / max(1, len(series)))
    every = max(1, len(labels) // 10)  # at most ~10 axis labels
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line class="axis" x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - 4}" '
             f'y2="{pad_top + plot_h}"/>',
             f'<text class="tick" x="{pad_left - 4}" y="{pad_top + 8}" text-anchor="end">{_fmt(top)}</text>',
             f'<text class="tick" x="{pad_left - 4}" y="{pad_top + plot_h}" text-anchor="end">0</text>']
    for i, label in enumerate(labels):
        x0 = pad_left + i * group_w + group_w * 0.1
        for s, (name, values) in enumerate(series):
            value = values[i]
            h = value * scale
            parts.append(f'<rect class="bar chart-s{s}" x="{x0 + s * bar_w:.1f}" y="{pad_top + plot_h - h:.1f}" '
                         f'width="{bar_w:.1f}" height="{h:.1f}"><title>{escape(label)} · {escape(name)}: '
                         f'{_fmt(value)}</title></rect>')
        if i % every == 0:
            parts.append(f'<text class="tick" x="{x0:.1f}" y="{height - 6}">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def heatmap(rows: Sequence[Sequence[int]], row_labels: Sequence[str], col_labels: Sequence[str], *,
            title: str, cell: int = 24) -> Markup:
    """A grid of cells whose opacity grows with the value (0 = empty cell), labelled rows and columns."""
    pad_left, pad_top = 44, 18
    width, height = pad_left + cell * len(col_labels) + 2, pad_top + cell * len(rows) + 2
    top = max([v for row in rows for v in row] + [0])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart heatmap" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for c, label in enumerate(col_labels):
        if c % 3 == 0:
            parts.append(f'<text class="tick" x="{pad_left + c * cell + 2}" y="12">{escape(label)}</text>')
    for r, row in enumerate(rows):
        y = pad_top + r * cell
        parts.append(f'<text class="tick" x="{pad_left - 6}" y="{y + cell * 0.65:.1f}" '
                     f'text-anchor="end">{escape(row_labels[r])}</text>')
        for c, value in enumerate(row):
            opacity = 0.08 + 0.92 * value / top if top and value else 0.0
            cls = "heat" if value else "heat empty"
            parts.append(f'<rect class="{cls}" data-row="{r}" data-col="{c}" data-value="{value}" '
                         f'x="{pad_left + c * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                         f'fill-opacity="{opacity:.2f}"><title>{escape(row_labels[r])} '
                         f'{escape(col_labels[c])}: {value}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))

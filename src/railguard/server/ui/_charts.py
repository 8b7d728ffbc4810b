"""Charts drawn on the server as SVG: no JavaScript library, readable in both themes (they use
`currentColor` and the page's CSS variables)."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

WIDTH, HEIGHT, PAD = 640, 160, 24


def stacked_bars(buckets: Sequence[dict[str, Any]], series: Sequence[tuple[str, str]], *, title: str) -> str:
    """Bars per time bucket, one stacked segment per (key, css class) in `series`."""
    if not buckets:
        return ""
    totals = [sum(float(b.get(key) or 0) for key, _ in series) for b in buckets]
    peak = max(totals) or 1.0
    slot = (WIDTH - 2 * PAD) / len(buckets)
    bar = max(1.0, slot * 0.7)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}">',
        f"<title>{html.escape(title)}</title>",
        f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"/>',
        f'<text class="label" x="{PAD}" y="14">{_number(peak)}</text>',
    ]
    for i, bucket in enumerate(buckets):
        x = PAD + i * slot + (slot - bar) / 2
        y = float(HEIGHT - PAD)
        tip = [time.strftime("%m-%d %H:%M", time.localtime(bucket["start"]))]
        for key, css in series:
            value = float(bucket.get(key) or 0)
            if value <= 0:
                continue
            h = value / peak * (HEIGHT - 2 * PAD)
            y -= h
            parts.append(f'<rect class="{css}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}"/>')
            tip.append(f"{key} {_number(value)}")
        parts.append(
            f'<rect class="hit" x="{PAD + i * slot:.1f}" y="{PAD}" width="{slot:.1f}" height="{HEIGHT - 2 * PAD}">'
            f"<title>{html.escape(', '.join(tip))}</title></rect>"
        )
    first, last = buckets[0]["start"], buckets[-1]["start"]
    # A day-long window starts and ends at the same hour: name the days, or both ends read "11:00".
    shape = "%H:%M" if time.localtime(first)[:3] == time.localtime(last)[:3] else "%a %H:%M"
    parts.append(f'<text class="label" x="{PAD}" y="{HEIGHT - 6}">{_clock(first, shape)}</text>')
    parts.append(f'<text class="label end" x="{WIDTH - PAD}" y="{HEIGHT - 6}">{_clock(last, shape)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _clock(ts: float, shape: str) -> str:
    return time.strftime(shape, time.localtime(ts))


def _number(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    if value == int(value):
        return f"{value:g}"
    return f"{value:.2f}" if value >= 1 else f"{value:.2g}"  # a cent's fractions stay visible: 0.0048

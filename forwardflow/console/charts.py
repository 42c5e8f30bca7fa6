"""Charts drawn on the server as SVG: aging, valuation by cohort, the sale's waterfall."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from markupsafe import Markup

__all__ = ["bars", "paired_bars", "waterfall"]

_W, _H, _PAD = 640, 220, 30


def _scale(values: Sequence[Decimal]) -> Decimal:
    top = max((abs(v) for v in values), default=Decimal(0))
    return top if top > 0 else Decimal(1)


def _svg(title: str, body: str, height: int = _H) -> Markup:
    return Markup(  # noqa: S704 - every text inside was escaped by this module
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {height}" role="img" '
        f'class="chart" aria-label="{escape(title)}"><title>{escape(title)}</title>{body}</svg>'
    )


def bars(title: str, labels: Sequence[str], values: Sequence[Decimal]) -> Markup:
    """One bar per label, height ∝ value, the value written above it."""
    top, n = _scale(values), max(len(values), 1)
    slot = (_W - 2 * _PAD) / n
    parts = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = float(value / top) * (_H - 3 * _PAD)
        x, y = _PAD + i * slot + slot * 0.15, _H - _PAD - height
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
            f'class="bar"><title>{escape(label)}: {value:,.2f}</title></rect>'
            f'<text x="{x + slot * 0.35:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
            f"{value:,.0f}</text>"
            f'<text x="{x + slot * 0.35:.1f}" y="{_H - _PAD + 14}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    return _svg(title, "".join(parts))


def paired_bars(
    title: str, labels: Sequence[str], first: Sequence[Decimal], second: Sequence[Decimal]
) -> Markup:
    """Two bars per label (the buyer's offer, internal recovery), side by side."""
    top, n = _scale([*first, *second]), max(len(labels), 1)
    slot = (_W - 2 * _PAD) / n
    parts = []
    for i, label in enumerate(labels):
        for j, (value, css) in enumerate(((first[i], "bar"), (second[i], "bar alt"))):
            height = max(float(value / top), 0.0) * (_H - 3 * _PAD)
            x = _PAD + i * slot + slot * (0.1 + 0.4 * j)
            parts.append(
                f'<rect x="{x:.1f}" y="{_H - _PAD - height:.1f}" width="{slot * 0.38:.1f}" '
                f'height="{height:.1f}" class="{css}"><title>{escape(label)}: '
                f"{value:,.2f}</title></rect>"
            )
        x, y = _PAD + (i + 0.5) * slot, _H - _PAD + 10
        parts.append(
            f'<text x="{x:.1f}" y="{y}" text-anchor="end" font-size="9" '
            f'transform="rotate(-30 {x:.1f} {y})">{escape(label)}</text>'
        )
    return _svg(title, "".join(parts), height=_H + 50)


def waterfall(title: str, steps: Sequence[tuple[str, Decimal, bool]]) -> Markup:
    """Steps of a waterfall: (label, amount, is a total); a non-total moves from the last."""
    running, spans = Decimal(0), []
    for label, amount, is_total in steps:
        low, high = (Decimal(0), amount) if is_total else sorted((running, running + amount))
        running = amount if is_total else running + amount
        spans.append((label, amount, low, high, is_total))
    top = _scale([s[3] for s in spans] + [s[2] for s in spans])
    slot = (_W - 2 * _PAD) / max(len(spans), 1)
    parts = []
    for i, (label, amount, low, high, is_total) in enumerate(spans):
        y_top = _H - _PAD - float(high / top) * (_H - 3 * _PAD)
        y_low = _H - _PAD - float(low / top) * (_H - 3 * _PAD)
        x = _PAD + i * slot + slot * 0.15
        css = "bar" if is_total else ("bar down" if amount < 0 else "bar alt")
        parts.append(
            f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{max(y_low - y_top, 1):.1f}" class="{css}"></rect>'
            f'<text x="{x + slot * 0.35:.1f}" y="{y_top - 4:.1f}" text-anchor="middle">'
            f"{amount:,.0f}</text>"
            f'<text x="{x + slot * 0.35:.1f}" y="{_H - _PAD + 14}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    return _svg(title, "".join(parts))

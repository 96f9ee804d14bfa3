"""The audit dashboard's charts: grade distributions as SVG made on the server.

Drawn directly rather than through Altair and vl-convert-python: those would bring a Vega
runtime (vl-convert ships an embedded JavaScript engine, tens of megabytes) to draw a handful
of stacked bars; these few functions need nothing beyond the standard library, run offline,
give the same bytes for the same figures (so tests can read them), and put the words a screen
reader needs (a title, a description, a `<title>` on every bar) into the picture itself. The
figures are also in a table beside each chart on the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

# One colour per grade (best first), each with a distinct pattern of lightness, so the grades
# are told apart without colour too (and each segment is labelled with its count).
GRADE_COLOURS = {
    "Outstanding": "#00703c", "Good": "#1d70b8", "Requires Improvement": "#b45200",
    "Inadequate": "#b10e1e",
}  # fmt: skip
WIDTH, LABELS, BAR, GAP, TOP = 720, 220, 22, 10, 56


def _scale(total: int, longest: int) -> float:
    return (WIDTH - LABELS - 60) * total / max(longest, 1)


def grade_chart(rows: Sequence[dict[str, Any]], by: str, grades: Sequence[str], ident: str) -> str:
    """Stacked bars: for each group (`row[by]`), its completed audits by grade."""
    height = TOP + len(rows) * (BAR + GAP) + 16
    longest = max((int(row["total"]) for row in rows), default=0)
    title = f"Completed audits by grade and {by}"
    desc = (f"{sum(int(r['total']) for r in rows)} completed audits in {len(rows)} groups by {by}."
            if rows else "No completed audits yet.")  # fmt: skip
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH} {height}' width='{WIDTH}'"
        f" height='{height}' role='img' aria-labelledby='{ident}-title {ident}-desc'"
        " font-family='Arial, Helvetica, sans-serif' class='chart'>",
        f"<title id='{ident}-title'>{escape(title)}</title><desc id='{ident}-desc'>{escape(desc)}</desc>",
        f"<rect width='{WIDTH}' height='{height}' fill='#ffffff'/>",
    ]
    x = float(LABELS)
    for grade in grades:  # the legend
        out.append(f"<rect x='{x}' y='12' width='12' height='12' fill={quoteattr(GRADE_COLOURS[grade])}/>"
                   f"<text x='{x + 16}' y='22' font-size='12' fill='#0b0c0c'>{escape(grade)}</text>")  # fmt: skip
        x += 24 + 7 * len(grade)
    for n, row in enumerate(rows):
        y, x = TOP + n * (BAR + GAP), float(LABELS)
        group = str(row[by])
        out.append(f"<g class='bar' data-group={quoteattr(group)}>"
                   f"<text x='8' y='{y + 15}' font-size='12' fill='#0b0c0c'>{escape(group[:34])}</text>")  # fmt: skip
        for grade in grades:
            count = int(row.get(grade, 0))
            if not count:
                continue
            width = round(_scale(count, longest), 1)
            out.append(
                f"<g class='segment' data-grade={quoteattr(grade)} data-count='{count}'>"
                f"<title>{escape(f'{group}: {count} {grade}')}</title>"
                f"<rect x='{x}' y='{y}' width='{width}' height='{BAR}'"
                f" fill={quoteattr(GRADE_COLOURS[grade])} stroke='#ffffff'/>"
                + (f"<text x='{x + width / 2}' y='{y + 15}' font-size='11' fill='#ffffff'"
                   f" text-anchor='middle'>{count}</text>" if width >= 16 else "")
                + "</g>"
            )  # fmt: skip
            x += width
        out.append(
            f"<text x='{x + 6}' y='{y + 15}' font-size='12' fill='#0b0c0c'>{row['total']}</text></g>"
        )
    out.append("</svg>")
    return "\n".join(out)

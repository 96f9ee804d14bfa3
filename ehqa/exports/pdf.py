"""The chronology on paper, with fpdf2 (pure Python, no system libraries).

The text is set in DejaVu Sans where the machine has it (any character a record may hold);
without it, in the PDF core font Helvetica, which holds Latin-1 only: other characters are then
printed as "?" (the HTML chronology keeps them all)."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from ehqa.exports.chronology import Chronology, local_time

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
FONTS = ((DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"),)  # (regular, bold)
FACT_WIDTHS = (22, 88, 42, 38)  # millimetres: date, what happened, recorded at, recorded by


def _font(pdf: FPDF) -> bool:
    """Set the text font; True if it holds any character (a Unicode TrueType font)."""
    for regular, bold in FONTS:
        if regular.exists() and bold.exists():
            pdf.add_font("body", "", str(regular))
            pdf.add_font("body", "B", str(bold))
            pdf.set_font("body", size=9)
            return True
    pdf.set_font("helvetica", size=9)
    return False


def to_pdf(found: Chronology) -> bytes:
    pdf = FPDF(orientation="portrait", format="A4")
    pdf.set_title(f"Chronology of {found.reference}")
    pdf.add_page()
    unicode = _font(pdf)

    def text(value: object) -> str:
        shown = "" if value is None else str(value)
        return shown if unicode else shown.encode("latin-1", "replace").decode("latin-1")

    def line(value: object, size: int = 9) -> None:
        pdf.set_font_size(size)
        pdf.multi_cell(0, size * 0.5, text(value), new_x="LMARGIN", new_y="NEXT")

    def table(header: tuple[str, ...], rows: list[tuple[object, ...]],
              widths: tuple[int, ...] | None = None) -> None:  # fmt: skip
        pdf.set_font_size(8)
        with pdf.table(col_widths=widths, text_align="LEFT") as grid:
            for row in [header, *rows]:
                cells = grid.row()
                for value in row:
                    cells.cell(text(value))
        pdf.ln(3)

    line(f"Chronology of episode {found.reference}", 14)
    line(f"As the record stood at {local_time(found.known_at.isoformat())}; clocks and alerts"
         f" as at {found.as_at}. Facts recorded later are not shown, whatever their dates.")  # fmt: skip
    if found.episode is None:
        line(f"Nothing about episode {found.reference} had been recorded by then.")
        return bytes(pdf.output())
    e, lead = found.episode, found.episode.get("lead") or {}
    line(f"Child {e['child']}; state {e['state']}; lead {lead.get('name', '')}"
         f" ({lead.get('agency', '')}); opened {e['opened_on']}"
         + (f"; closed {e['closed_on']} ({e['closed_reason']})" if e["closed_on"] else ""))  # fmt: skip
    line("Facts", 12)
    table(("Date", "What happened", "Recorded at", "Recorded by"),
          [(f["on"], f["label"], f["recorded"], f["author"]) for f in found.facts], FACT_WIDTHS)  # fmt: skip
    line("Clocks", 12)
    table(("Clock", "#", "Started", "Due", "Stopped", "Status", "Late (wd)", "Exception"),
          [tuple(k.values()) for k in found.clocks])  # fmt: skip
    line("Alerts", 12)
    table(("Alert", "Rung", "Fell due", "Raised", "Cleared"),
          [(a["id"], a["rung"], a["fell_due_on"], a["raised_on"], a["cleared_on"] or "")
           for a in found.alerts]) if found.alerts else line("No alerts.")  # fmt: skip
    line("Exceptions", 12)
    for f in found.exceptions or [{"on": "", "label": "No exceptions recorded.", "author": ""}]:
        line(f"{f['on']} {f['label']}" + (f" (recorded by {f['author']})" if f["author"] else ""))
    if found.audits is None:  # (not shown to the caller)
        return bytes(pdf.output())
    line("Audits", 12)
    table(("Audit", "Scheme", "Auditor", "Assigned", "Completed", "Grade"),
          [(a["audit"], a["scheme"], a["auditor"], a["assigned_on"], a["completed_on"] or "",
            a["grade"] or "") for a in found.audits]) if found.audits else line("No audits.")  # fmt: skip
    return bytes(pdf.output())

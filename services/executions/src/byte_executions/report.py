"""The pipeline report as a PDF (fpdf2): counts by status, a cases-per-day chart, where cases
wait, and the open cases. Built from `queries.exports.PipelineReport`; no I/O here."""

from __future__ import annotations

from datetime import datetime

from fpdf import FPDF
from fpdf.fonts import FontFace

from byte_executions.queries.exports import REPORT_OPEN_CASES, PipelineReport

HEADING = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
OPENED, CLOSED = (52, 101, 164), (115, 210, 22)


def _text(value: object) -> str:
    # the built-in PDF fonts are Latin-1: other characters show as '?' rather than fail the report
    return ("" if value is None else str(value)).encode("latin-1", "replace").decode("latin-1")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{int(seconds)}s"


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


def _heading(pdf: FPDF, title: str) -> None:
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)


def _chart(pdf: FPDF, report: PipelineReport) -> None:
    """Bars per day, opened and closed side by side, scaled to the busiest day."""
    days = report.per_day.days
    width, height = pdf.epw, 45
    x0, y0 = pdf.l_margin, pdf.get_y() + 2
    peak = max([d.opened for d in days] + [d.closed for d in days] + [1])
    slot = width / max(len(days), 1)
    bar = max(slot * 0.4, 0.3)
    pdf.set_draw_color(160, 160, 160)
    pdf.line(x0, y0 + height, x0 + width, y0 + height)
    for i, day in enumerate(days):
        for j, (count, color) in enumerate(((day.opened, OPENED), (day.closed, CLOSED))):
            if count:
                h = height * count / peak
                pdf.set_fill_color(*color)
                pdf.rect(x0 + i * slot + j * bar, y0 + height - h, bar, h, style="F")
    pdf.set_y(y0 + height + 1)
    pdf.set_font("Helvetica", "", 7)
    if days:
        pdf.cell(width / 2, 4, days[0].day.isoformat())
        pdf.cell(width / 2, 4, days[-1].day.isoformat(), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(
        0, 6, f"Opened (blue): {report.per_day.opened}   Closed (green): {report.per_day.closed}   peak {peak} a day",
        new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip


def render(report: PipelineReport) -> bytes:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_title("Pipeline report")
    pdf.set_creator("BYTE executions")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, "Pipeline report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(0, 5, _text(f"Organization {report.org_id}, {report.generated_at:%Y-%m-%d %H:%M} UTC"),
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip

    _heading(pdf, f"Cases by status ({report.by_status.total} in all)")
    with pdf.table(col_widths=(3, 1), text_align=("LEFT", "RIGHT"), headings_style=HEADING, width=100,
                   align="LEFT") as table:  # fmt: skip
        table.row(["Status", "Cases"])
        for status in report.by_status.statuses:
            table.row([_text(status.label), str(status.count)])

    days = report.per_day.days
    _heading(pdf, f"Cases per day ({len(days)} days)")
    _chart(pdf, report)

    if report.waits is not None:
        waits = report.waits
        _heading(pdf, _text(f"Where cases wait: {waits.definition_name} v{waits.definition_version}"))
        pdf.cell(0, 5, f"Time per case, over the cases that left since {_date(waits.since)}",
                 new_x="LMARGIN", new_y="NEXT")  # fmt: skip
        with pdf.table(col_widths=(4, 1, 1.3, 1.3, 1.3, 1.2, 1.6), headings_style=HEADING,
                       text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")) as table:  # fmt: skip
            table.row(["Step", "Cases", "p50", "p90", "Max", "There now", "Longest now"])
            for step in waits.steps:
                table.row([_text(step.step_name or step.step_id), str(step.cases), _duration(step.p50_seconds),
                           _duration(step.p90_seconds), _duration(step.max_seconds), str(step.waiting_now),
                           _duration(step.longest_waiting_seconds)])  # fmt: skip
            for stood in waits.statuses:
                table.row([_text(f"Status: {stood.label}"), str(stood.cases), _duration(stood.p50_seconds),
                           _duration(stood.p90_seconds), _duration(stood.max_seconds), str(stood.waiting_now),
                           _duration(stood.longest_waiting_seconds)])  # fmt: skip

    _heading(pdf, "Open cases" + (f" (the {REPORT_OPEN_CASES} oldest)" if report.more_open_cases else ""))
    if report.open_cases:
        with pdf.table(col_widths=(3, 2.5, 2, 2), headings_style=HEADING) as table:
            table.row(["Contact", "Definition", "Status", "Opened"])
            for case in report.open_cases:
                name = " ".join(p for p in (case.contact_first_name, case.contact_last_name) if p)
                table.row([_text(name or case.contact_id), _text(case.definition_name), _text(case.status),
                           _date(case.started_at)])  # fmt: skip
    else:
        pdf.cell(0, 6, "No open cases.", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())

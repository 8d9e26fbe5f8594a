"""Writes kb_sample/privacy-notice.pdf, the sample knowledge base's PDF (run once; the PDF is committed).

    pip install fpdf2==2.8.9 && python -m scripts.make_kb_pdf

fpdf2 is needed by this script only, so it is in no extra; the ingest reads PDFs with pypdf.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF  # only where the script is run (fpdf2 is in no extra)

OUT = Path(__file__).resolve().parent.parent / "kb_sample" / "privacy-notice.pdf"
TITLE = "Northwind Fibre privacy notice"
SECTIONS = (
    (
        "",
        "This notice explains what personal information Northwind Fibre collects about you, why we use it, "
        "how long we keep it and the rights you have. It applies to home and business customers.",
    ),
    (
        "What we collect",
        "We collect the details you give us when you order, such as your name, address, email address, phone "
        "number and bank details. While you use our service we also collect traffic data: the times and amounts "
        "of data your connection uses and the IP addresses assigned to it. We do not record the content of your "
        "browsing, emails or calls.",
    ),
    (
        "How long we keep it",
        "We keep billing and account records for six years after your account closes, because the law requires "
        "it. We keep traffic data for twelve months, and call recordings from our support lines for ninety days.",
    ),
    (
        "Marketing",
        "We only send marketing messages if you agree. You can opt out at any time in My Account, by replying "
        "STOP to a text message, or with the unsubscribe link in any marketing email. We never sell your "
        "personal information to other companies.",
    ),
    (
        "Your rights",
        "You can ask for a copy of the personal information we hold about you, free of charge, and we will "
        "reply within one month. You can also ask us to correct or delete information. To make a request, "
        "email our data protection officer at privacy@northwindfibre.example. If you are not happy with our "
        "answer, you can complain to the Information Commissioner's Office.",
    ),
)


def main() -> None:
    pdf = FPDF(format="A4")
    pdf.set_title(TITLE)
    pdf.set_subject("What personal information Northwind Fibre collects, why, and for how long.")
    pdf.set_keywords("privacy, data protection, legal")
    # A fixed date: running the script again writes the same file.
    pdf.set_creation_date(datetime(2025, 1, 1, tzinfo=UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 10, TITLE, new_x="LMARGIN", new_y="NEXT")
    for heading, body in SECTIONS:
        if heading:
            pdf.ln(3)
            pdf.set_font("Helvetica", "B", 12)
            pdf.multi_cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(OUT))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

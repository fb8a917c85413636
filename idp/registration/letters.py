"""Postal letters as PDF files in the letters outbox (the print shop picks them up)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

from idp.directory.models import Establishment

# fpdf2's built-in fonts speak Latin-1: replace the few French characters outside it.
_LATIN1 = str.maketrans({"œ": "oe", "Œ": "OE", "’": "'", "«": '"', "»": '"', "€": "EUR",
                         "\u202f": " ", "\u00a0": " ", "–": "-", "—": "-"})


def _text(value: str) -> str:
    return value.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")


class LetterBox:
    """Writes letters to a folder, one PDF each."""

    def __init__(self, folder: str):
        self._folder = Path(folder)

    def write(self, kind: str, recipient: Establishment, attention: str, paragraphs: list[str]
              ) -> Path:
        """A one-page letter to ``recipient`` (its name and address), for ``attention``."""
        pdf = FPDF(format="A4")
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(0, 10, _text("net-entreprises.fr"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.ln(10)
        for line in (attention, recipient.display_name, recipient.address):
            pdf.set_x(110)
            pdf.multi_cell(0, 6, _text(line), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(12)
        pdf.cell(0, 6, _text(f"Le {datetime.now(UTC):%d/%m/%Y}"), new_x="LMARGIN",
                 new_y="NEXT")
        pdf.ln(6)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, _text(paragraph), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self._folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{kind}-{recipient.siret}-" \
                              f"{uuid.uuid4().hex[:6]}.pdf"
        pdf.output(str(path))
        return path


def summary_pdf(title: str, rows: list[tuple[str, str]]) -> bytes:
    """The printable « compte rendu » of a registration."""
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for label, value in rows:
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(60, 7, _text(label))
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 7, _text(value), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())

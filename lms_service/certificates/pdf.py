"""The certificate as a PDF: A4 landscape, in the learner's language, with a QR code to the verification page.

fpdf2 and segno are pure Python wheels from PyPI (no system package). The text uses the PDF core font
Helvetica with WinAnsi encoding, which carries å, ä, ö and the other Western European letters; a letter
outside it (a rare name) is written without its accent rather than failing. The document has a title,
a language and real text (it can be searched, copied and read aloud), and the QR code image carries alt
text in the PDF's structure tree, which is as much tagging as fpdf2 offers.
"""
from __future__ import annotations

import datetime as dt
import io
import unicodedata
from collections.abc import Callable

import segno
from babel.dates import format_date
from flask_babel import force_locale
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from .models import Certificate, aware

FONT = "Helvetica"
GREEN = (22, 101, 52)
GREY = (70, 70, 70)


# Letters with no decomposition to a base letter (NFKD leaves them whole).
_FALLBACK = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "Ħ": "H", "ħ": "h", "ŀ": "l",
                           "Ŀ": "L", "‐": "-", "‑": "-", "−": "-"})


def pdf_text(text: str) -> str:
    """``text`` in the core font's encoding (cp1252, which has – — ’ “ ” € besides å ä ö); a letter it lacks
    loses its accent (Ł becomes L), anything else becomes '?'."""
    out = []
    for char in text.translate(_FALLBACK):
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("cp1252", "ignore").decode("cp1252")
            out.append(base or "?")
    return "".join(out)


def _date(value: dt.datetime, lang: str) -> str:
    return format_date(aware(value).date(), format="long", locale="sv_SE" if lang == "sv" else "en_GB")


def _qr_png(url: str) -> io.BytesIO:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=8, border=2)
    buffer.seek(0)
    return buffer


def certificate_pdf(certificate: Certificate, verify_url: str, lang: str, font: str = "",
                    bold_font: str = "") -> bytes:
    """Render the certificate in ``lang`` ('sv' or 'en').

    ``font`` (and ``bold_font``) name TrueType files to embed instead of the core font, for names in any
    script (CERTIFICATE_PDF_FONT, e.g. Debian's DejaVuSans.ttf); without them nothing outside PyPI is needed.
    """
    lang = lang if lang in ("sv", "en") else "sv"
    with force_locale(lang):
        title = certificate.title(lang)
        heading = _("Certificate")
        kind_line = (_("has completed the learning path") if certificate.subject_kind == "path"
                     else _("has passed the module"))
        details = []
        if certificate.subject_version:
            details.append(_("Version %(version)s", version=certificate.subject_version))
        if certificate.score_percent is not None:
            details.append(_("Score %(score)d %%", score=certificate.score_percent))
        issued = _("Issued %(date)s", date=_date(certificate.issued_at, lang))
        valid = (_("Valid until %(date)s", date=_date(certificate.valid_until, lang))
                 if certificate.valid_until is not None else _("Does not expire"))
        revoked = (_("REVOKED on %(date)s", date=_date(certificate.revoked_at, lang))
                   if certificate.revoked_at is not None else "")
        verify_label = _("Verify this certificate:")
        qr_alt = _("QR code linking to the verification page %(url)s", url=verify_url)
        id_label = _("Certificate id: %(id)s", id=certificate.public_id)
        issuer_label = _("Issued by %(issuer)s", issuer=certificate.issuer_name)

    pdf = FPDF(orientation="landscape", unit="mm", format="A4")
    family = FONT
    encode: Callable[[str], str] = pdf_text
    if font:
        pdf.add_font("certificate", "", font)
        pdf.add_font("certificate", "B", bold_font or font)
        family, encode = "certificate", str
    else:
        # fpdf2 writes the core fonts with WinAnsiEncoding; cp1252 is that encoding (latin-1 lacks – ’ “ ”).
        pdf.core_fonts_encoding = "windows-1252"
    pdf.set_title(encode(f"{heading}: {title}"))
    pdf.set_author(encode(certificate.issuer_name))
    pdf.set_subject(encode(f"{heading} - {certificate.learner_name} - {title}"))
    pdf.set_creator("lms_service")
    pdf.set_lang(lang)
    pdf.set_display_mode("fullpage")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    width = pdf.w - 40

    pdf.set_draw_color(*GREEN)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)

    def line(text: str, size: float, style: str = "", color=GREY, height: float | None = None) -> None:
        pdf.set_font(family, style, size)
        pdf.set_text_color(*color)
        pdf.set_x(20)
        pdf.multi_cell(width, height or size * 0.5, encode(text), align="C", new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT)

    pdf.set_y(24)
    line(certificate.issuer_name, 13, "B", GREEN)
    pdf.ln(6)
    line(heading, 34, "B", GREEN)
    pdf.ln(8)
    line(certificate.learner_name, 26, "B", (0, 0, 0))
    pdf.ln(3)
    line(kind_line, 14)
    pdf.ln(2)
    line(title, 20, "B", (0, 0, 0))
    if details:
        pdf.ln(2)
        line("  ·  ".join(details), 12)
    pdf.ln(6)
    line(f"{issued}  ·  {valid}", 12)
    if revoked:
        pdf.ln(3)
        line(revoked, 14, "B", (160, 0, 0))

    qr_size = 38
    qr_x, qr_y = pdf.w - 20 - qr_size, pdf.h - 20 - qr_size
    pdf.image(_qr_png(verify_url), x=qr_x, y=qr_y, w=qr_size, h=qr_size, alt_text=encode(qr_alt))
    pdf.set_font(family, "", 9)
    pdf.set_text_color(*GREY)
    text_width = qr_x - 25
    pdf.set_xy(20, pdf.h - 44)
    pdf.multi_cell(text_width, 5, encode(issuer_label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(20)
    pdf.multi_cell(text_width, 5, encode(id_label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(20)
    pdf.multi_cell(text_width, 5, encode(verify_label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(20)
    pdf.set_text_color(*GREEN)
    pdf.cell(text_width, 5, encode(verify_url), link=verify_url, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())

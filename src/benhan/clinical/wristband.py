"""Patient wristband barcodes (pure: text in, SVG text out).

The wristband holds the patient code (MA_BN) twice: as Code 128 for the ward's USB/Bluetooth scanners and as
a QR code for a phone or tablet camera (the pages decode it with jsQR). Both from maintained PyPI packages:
``python-barcode`` (Code 128, ISO/IEC 15417) and ``segno`` (QR, ISO/IEC 18004), rendered as SVG so they print
sharp at any size with no image library.
"""

from __future__ import annotations

import io
import re

import barcode  # type: ignore[import-untyped]
import segno
from barcode.writer import SVGWriter  # type: ignore[import-untyped]

_PROLOG = re.compile(r"^\s*<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def code128_svg(code: str, *, height_mm: float = 10.0) -> str:
    """An inline ``<svg>`` Code 128 of ``code`` (no human-readable text: the band prints it beside)."""
    if not code or not code.isascii():
        raise ValueError("Code 128 needs a non-empty ASCII code")
    buf = io.BytesIO()
    barcode.get("code128", code, writer=SVGWriter()).write(
        buf, options={"write_text": False, "module_height": height_mm, "quiet_zone": 2.0, "module_width": 0.3}
    )
    return _COMMENT.sub("", _PROLOG.sub("", buf.getvalue().decode("utf-8"))).strip()


def qr_svg(code: str, *, scale: int = 3) -> str:
    """An inline ``<svg>`` QR code of ``code`` (error correction M: survives a scratched band)."""
    if not code:
        raise ValueError("QR needs a non-empty code")
    buf = io.BytesIO()
    segno.make(code, error="m").save(buf, kind="svg", scale=scale, xmldecl=False, svgns=True, title=code)
    return buf.getvalue().decode("utf-8")

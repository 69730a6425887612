"""Scans made from real documents, for the OCR eval and tests.

`make_scan(pdf, out, dpi)` renders each page of a PDF to a greyscale JPEG with
poppler's pdftoppm (as a flatbed scanner or a phone would give it) and wraps
the images, one per page at the page's own size, into a PDF with no text
layer. `make_mixed(pdf, out, dpi, scanned_pages)` keeps the other pages' text:
it replaces only the listed pages by their pictures. `render_page(pdf, page,
dpi, fmt)` gives one page as PNG or JPEG bytes (single-page image uploads).

Needs pdftoppm (poppler-utils); image-only PDFs are written here, byte by
byte; make_mixed also needs pypdf (eval/ocr.py runs in .venv-eval, which has it).
"""
import io
import subprocess
import sys
from pathlib import Path


def render_page(pdf, page, dpi, fmt="jpeg"):
    flag = {"jpeg": "-jpeg", "png": "-png"}[fmt]
    out = subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile", "-gray", flag, str(pdf)],
        check=True, capture_output=True,
    ).stdout
    if not out:
        raise RuntimeError(f"pdftoppm rendered nothing for page {page} of {pdf}")
    return out


def page_count(pdf):
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    for line in info.splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    raise RuntimeError(f"pdfinfo found no page count in {pdf}")


def jpeg_frame(data):
    """(width, height, components) from a JPEG's frame header."""
    at = 2
    while at < len(data):
        if data[at] != 0xFF:
            raise ValueError("not a JPEG")
        marker = data[at + 1]
        length = int.from_bytes(data[at + 2:at + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(data[at + 5:at + 7], "big")
            width = int.from_bytes(data[at + 7:at + 9], "big")
            return width, height, data[at + 9]
        at += 2 + length
    raise ValueError("no frame header")


def image_pdf(jpegs, dpi):
    """A PDF whose pages are the given JPEGs (pdftoppm's are three-component even with -gray), nothing else."""
    objects = []

    def add(body):
        objects.append(body)
        return len(objects)

    catalog = add(None)
    pages = add(None)
    kids = []
    for data in jpegs:
        width, height, components = jpeg_frame(data)
        colour = {1: b"/DeviceGray", 3: b"/DeviceRGB", 4: b"/DeviceCMYK"}[components]
        w_pt, h_pt = width * 72.0 / dpi, height * 72.0 / dpi
        image = add(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
            b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n" % (width, height, colour, len(data))
            + data + b"\nendstream"
        )
        content = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (w_pt, h_pt)
        stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(add(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (pages, w_pt, h_pt, image, stream)
        ))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages
    objects[pages - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)


def make_scan(pdf, out, dpi=300, pages=None):
    """Every page (or `pages`) of `pdf` as a picture: a PDF with no text layer."""
    numbers = pages or range(1, page_count(pdf) + 1)
    Path(out).write_bytes(image_pdf([render_page(pdf, n, dpi) for n in numbers], dpi))


def make_mixed(pdf, out, dpi, scanned_pages):
    """`pdf` with only `scanned_pages` replaced by their pictures; the other
    pages keep their text, every page keeps its number. Needs pypdf."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(str(pdf))
    writer = PdfWriter()
    for number, page in enumerate(reader.pages, 1):
        if number in scanned_pages:
            picture = image_pdf([render_page(pdf, number, dpi)], dpi)
            writer.add_page(PdfReader(io.BytesIO(picture)).pages[0])
        else:
            writer.add_page(page)
    with open(out, "wb") as f:
        writer.write(f)


if __name__ == "__main__":
    source, target, dpi = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 300
    make_scan(source, target, dpi)
    print(f"{target}: {page_count(target)} pages, no text layer")

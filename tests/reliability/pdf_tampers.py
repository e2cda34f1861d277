"""Ways to forge a signed opinion PDF (reliability #25): byte edits, incremental updates that
add a page, an annotation or text, swap the evidence root or strip the signature, and the
pdf-insecurity.org families that one machine can build (shadow replace, coverage tricks)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

Tamper = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Forgery:
    name: str
    family: str  # byte edit, incremental update, strip, swap root, pdf-insecurity
    make: Tamper


def byte_range(pdf: bytes) -> tuple[int, int, int, int]:
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    a, b, c, d = (int(x) for x in signature.sig_object["/ByteRange"])
    return a, b, c, d


def signed_positions(pdf: bytes, count: int) -> list[int]:
    """``count`` positions spread evenly over both signed byte ranges."""
    _, b, c, d = byte_range(pdf)
    total = b + d
    spots = [int(total * (i + 0.5) / count) for i in range(count)]
    return [s if s < b else c + (s - b) for s in spots]


def flip_at(position: int) -> Tamper:
    def flip(pdf: bytes) -> bytes:
        out = bytearray(pdf)
        out[position] ^= 0x01
        return bytes(out)

    return flip


def _write(writer: IncrementalPdfFileWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def add_page(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    stream = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 720 Td (PASS) Tj ET")
    )
    page = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(x) for x in (0, 0, 595, 842)]
            ),
            generic.NameObject("/Contents"): stream,
            generic.NameObject("/Resources"): generic.DictionaryObject(),
        }
    )
    writer.insert_page(page)
    return _write(writer)


def add_annotation(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref, _ = writer.find_page_for_modification(0)
    page = page_ref.get_object()
    note = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
            generic.NameObject("/Rect"): generic.ArrayObject(
                [generic.NumberObject(x) for x in (72, 600, 400, 640)]
            ),
            generic.NameObject("/Contents"): generic.pdf_string("结论：通过 / passed"),
            generic.NameObject("/DA"): generic.pdf_string("/Helv 18 Tf 0 g"),
        }
    )
    annots = page.get("/Annots")
    items = list(annots.get_object()) if annots is not None else []
    page[generic.NameObject("/Annots")] = generic.ArrayObject([*items, writer.add_object(note)])
    writer.update_container(page_ref)
    return _write(writer)


def overlay_text(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    data = b"q 1 1 1 rg 60 600 480 120 re f Q BT /F1 20 Tf 72 650 Td (ALL PASSED) Tj ET"
    stream = writer.add_object(generic.StreamObject(stream_data=data))
    writer.add_stream_to_page(0, stream)
    return _write(writer)


def shadow_replace_contents(pdf: bytes) -> bytes:
    """Shadow attack (replace): a new version of page 1's content stream under the same id."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref, _ = writer.find_page_for_modification(0)
    contents = page_ref.get_object().raw_get("/Contents")
    if isinstance(contents, generic.IndirectObject) and isinstance(
        contents.get_object(), generic.ArrayObject
    ):
        contents = contents.get_object().raw_get(0)
    elif isinstance(contents, generic.ArrayObject):
        contents = contents.raw_get(0)
    ref = contents
    replacement = generic.StreamObject(stream_data=b"BT /F1 20 Tf 72 700 Td (REPLACED) Tj ET")
    writer.mark_update(ref)
    writer.objects[(ref.generation, ref.idnum)] = replacement
    return _write(writer)


def info_update(keywords: str) -> Tamper:
    def update(pdf: bytes) -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        info = generic.DictionaryObject(
            {generic.NameObject("/Keywords"): generic.pdf_string(keywords)}
        )
        writer.trailer["/Info"] = writer.add_object(info)
        writer.update_root()
        return _write(writer)

    return update


def swap_root_in_place(root: str, other: str) -> Tamper:
    def swap(pdf: bytes) -> bytes:
        assert root.encode() in pdf
        return pdf.replace(root.encode(), other.encode())

    return swap


def zero_signature(pdf: bytes) -> bytes:
    _, b, c, _ = byte_range(pdf)
    return pdf[: b + 1] + b"0" * (c - b - 2) + pdf[c - 1 :]


def remove_signature_field(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    form = writer.root["/AcroForm"]
    form[generic.NameObject("/Fields")] = generic.ArrayObject()
    writer.update_container(form)
    return _write(writer)


def append_garbage(pdf: bytes) -> bytes:
    return pdf + b"\n% not part of the signed file\n1 0 obj (forged) endobj\n"


def byte_range_cover_less(pdf: bytes) -> bytes:
    """A /ByteRange that covers less of the file (same width, so offsets stay put)."""
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert match is not None
    last = match.group(4)
    shorter = str(int(last) - 1).rjust(len(last)).encode()
    return pdf[: match.start(4)] + shorter + pdf[match.end(4) :]

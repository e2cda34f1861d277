"""What may follow the signed revision of an opinion PDF: long-term validation data, nothing else.

pyHanko's diff analysis classifies later revisions, but it files some real changes under
"LTA updates": a new annotation in an existing indirect ``/Annots`` array, or a replaced
document information dictionary (reliability #25 found both). So we check every later
revision ourselves, object by object: allowed are the document security store (``/DSS`` and
everything it holds), document timestamp fields (their field, widget, signature dictionary
and appearance), adding those to ``/AcroForm /Fields`` and a page's ``/Annots``, and the
catalog entries ``/DSS``, ``/AcroForm``, ``/Extensions``; the information dictionary's
``/ModDate`` and ``/Producer`` and the XMP metadata stream, which pyHanko refreshes on every
update (the opinion's hash and root are read from the signed revision). Anything else —
another object changed or added, an object freed, a new ``/Info`` — is named as a problem.
Bytes after the last ``%%EOF`` that are not whitespace (no revision accounts for them) are a
problem too.
"""

from __future__ import annotations

from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader

_CATALOG_KEYS = frozenset({"/DSS", "/AcroForm", "/Extensions"})
_FORM_KEYS = frozenset({"/Fields", "/SigFlags"})
_PAGE_KEYS = frozenset({"/Annots"})
_INFO_KEYS = frozenset({"/ModDate", "/Producer"})  # pyHanko stamps these on every update
_PLUMBING = frozenset({"/XRef", "/ObjStm"})
_WALK_LIMIT = 20_000

Ref = tuple[int, int]


def _ref(obj: Any) -> Ref | None:
    if isinstance(obj, generic.IndirectObject | generic.Reference):
        return (obj.idnum, obj.generation)
    return None


def _shape(obj: Any, depth: int = 0) -> Any:
    """A comparable form of a (raw) PDF value; indirect objects compare by reference."""
    ref = _ref(obj)
    if ref is not None:
        return ("ref", ref)
    if depth > 8:
        return ("deep",)
    if isinstance(obj, generic.DictionaryObject):
        return tuple(sorted((str(k), _shape(obj.raw_get(k), depth + 1)) for k in obj))
    if isinstance(obj, generic.ArrayObject):
        return tuple(_shape(obj.raw_get(i), depth + 1) for i in range(len(obj)))
    return repr(obj)


def _walk(resolver: HistoricalResolver, start: Any, skip: frozenset[str] = frozenset()) -> set[Ref]:
    """Every indirect object reachable from ``start`` (not through the keys in ``skip``)."""
    seen: set[Ref] = set()
    stack = [start]
    while stack and len(seen) < _WALK_LIMIT:
        item = stack.pop()
        ref = _ref(item)
        if ref is not None:
            if ref in seen:
                continue
            seen.add(ref)
            item = resolver.get_object(generic.Reference(ref[0], ref[1]))
        if isinstance(item, generic.DictionaryObject):
            stack.extend(item.raw_get(k) for k in item if str(k) not in skip)
        elif isinstance(item, generic.ArrayObject):
            stack.extend(item.raw_get(i) for i in range(len(item)))
    return seen


def _get(obj: Any, key: str) -> Any:
    """``obj[key]``, both resolved, or None."""
    found = _resolve(obj)
    return _resolve(found.get(key)) if isinstance(found, generic.DictionaryObject) else None


def _stamp_refs(resolver: HistoricalResolver) -> set[Ref]:
    """Objects of document timestamp fields (field, widget, /V, appearance)."""
    form = _get(resolver.root, "/AcroForm")
    fields = _get(form, "/Fields")
    found: set[Ref] = set()
    if not isinstance(fields, generic.ArrayObject):
        return found
    for index in range(len(fields)):
        raw = fields.raw_get(index)
        field = _resolve(raw)
        value = _get(field, "/V")
        if _get(field, "/FT") == "/Sig" and _get(value, "/Type") == "/DocTimeStamp":
            found |= _walk(resolver, raw, skip=frozenset({"/P", "/Parent"}))
    return found


def _changed_keys(old: Any, new: Any) -> set[str]:
    if not isinstance(old, generic.DictionaryObject) or not isinstance(
        new, generic.DictionaryObject
    ):
        return {"*"}
    keys = {str(k) for k in old} | {str(k) for k in new}
    return {
        k
        for k in keys
        if _shape(old.raw_get(k) if k in old else None)
        != _shape(new.raw_get(k) if k in new else None)
    }


def _only_adds_stamps(old: Any, new: Any, stamps: set[Ref]) -> bool:
    old_items = list(_shape(old)) if isinstance(old, generic.ArrayObject) else []
    new_items = list(_shape(new)) if isinstance(new, generic.ArrayObject) else []
    if new_items[: len(old_items)] != old_items:
        return False
    return all(
        isinstance(item, tuple) and item[0] == "ref" and item[1] in stamps
        for item in new_items[len(old_items) :]
    )


def _keys_ok(old: Any, new: Any, allowed: frozenset[str], stamps: set[Ref], list_key: str) -> bool:
    changed = _changed_keys(old, new)
    if not changed <= allowed:
        return False
    if list_key in changed:
        return _only_adds_stamps(
            _resolve(old.get(list_key)) if old is not None else None,
            _resolve(new.get(list_key)),
            stamps,
        )
    return True


def _resolve(obj: Any) -> Any:
    if isinstance(obj, generic.IndirectObject):
        target: Any = obj
        return target.get_object()
    return obj


def _object_ok(
    ref: Ref, old: HistoricalResolver, new: HistoricalResolver, allowed: set[Ref], stamps: set[Ref]
) -> bool:
    if ref in allowed or ref in stamps:
        return True
    obj = new.get_object(generic.Reference(*ref))
    if isinstance(obj, generic.StreamObject) and _get(obj, "/Type") in _PLUMBING:
        return True
    try:
        before = old.get_object(generic.Reference(*ref))
    except Exception:  # a new object that is neither DSS nor a timestamp
        return False
    if isinstance(before, generic.NullObject):
        return False
    if _ref(new.root_ref) == ref:
        return _changed_keys(before, obj) <= _CATALOG_KEYS
    if "/Info" in new.trailer_view and _ref(new.trailer_view.raw_get("/Info")) == ref:
        return _changed_keys(before, obj) <= _INFO_KEYS
    if "/Metadata" in new.root and _ref(new.root.raw_get("/Metadata")) == ref:
        return bool(_get(obj, "/Type") == "/Metadata")  # XMP, refreshed by pyHanko; not shown
    if _get(obj, "/Type") == "/Page":
        return _keys_ok(before, obj, _PAGE_KEYS, stamps, "/Annots")
    if isinstance(obj, generic.DictionaryObject) and "/Fields" in obj:
        return _keys_ok(before, obj, _FORM_KEYS, stamps, "/Fields")
    if isinstance(obj, generic.ArrayObject):
        return _only_adds_stamps(before, obj, stamps)
    return False


def later_revision_problems(reader: PdfFileReader, signed_revision: int) -> list[str]:
    """Each change after the signed revision that is not long-term validation data."""
    problems: list[str] = []
    for revision in range(signed_revision + 1, reader.xrefs.total_revisions):
        old = reader.get_historical_resolver(revision - 1)
        new = reader.get_historical_resolver(revision)
        if _shape(old.trailer_view.raw_get("/Info") if "/Info" in old.trailer_view else None) != (
            _shape(new.trailer_view.raw_get("/Info") if "/Info" in new.trailer_view else None)
        ):
            problems.append(f"签名后文档信息被替换 / document info replaced in revision {revision}")
        if list(reader.xrefs.refs_freed_in_revision(revision)):
            problems.append(f"签名后有对象被删除 / objects freed in revision {revision}")
        dss = new.root.raw_get("/DSS") if "/DSS" in new.root else None
        allowed = _walk(new, dss) if dss is not None else set()
        stamps = _stamp_refs(new)
        for reference in reader.xrefs.explicit_refs_in_revision(revision):
            ref = (reference.idnum, reference.generation)
            if not _object_ok(ref, old, new, allowed, stamps):
                problems.append(
                    f"签名后对象 {ref[0]} 被修改 / object {ref[0]} changed in revision {revision} "
                    "after signing"
                )
    return problems


def trailing_problem(pdf_bytes: bytes) -> list[str]:
    end = pdf_bytes.rfind(b"%%EOF")
    if end < 0 or pdf_bytes[end + 5 :].strip(b" \t\r\n\x00\x0c"):
        return ["文件末尾有未签名的内容 / bytes after the last %%EOF that no revision accounts for"]
    return []

"""The evidence root: a Merkle tree (RFC 6962 style) over what an opinion rests on. Pure.

Each leaf is one evidence object, written as the canonical line ``kind\\tid\\tsha256hex``
(UTF-8, no trailing newline). Hashes follow RFC 6962 §2.1, so any Certificate-Transparency
style verifier recomputes the same root:

* leaf  = SHA-256(0x00 || line)
* node  = SHA-256(0x01 || left || right)
* a list of n > 1 leaves splits at k, the largest power of two below n; the root of no leaf
  is SHA-256 of the empty string.

Leaves are ordered by (kind, id) — the order is part of the root, so a reordered manifest
gives another root. ``ordered`` puts any list in that order; ``root_of`` hashes a list as
given (callers pass ``ordered`` ones; a verifier checks the order separately to name it).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

ALGORITHM = "rfc6962-sha256"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_FIELD_RE = re.compile(r"^[^\t\r\n]{1,200}$")


@dataclass(frozen=True, slots=True, order=True)
class Leaf:
    """One evidence object: what it is, its id, the SHA-256 (hex) of its bytes."""

    kind: str
    id: str
    sha256: str

    def __post_init__(self) -> None:
        if not _FIELD_RE.fullmatch(self.kind) or not _FIELD_RE.fullmatch(self.id):
            raise ValueError(f"a leaf's kind and id are 1-200 characters without tabs: {self!r}")
        if not _SHA_RE.fullmatch(self.sha256):
            raise ValueError(f"a leaf's sha256 is 64 lower-case hex characters: {self!r}")

    @property
    def line(self) -> bytes:
        """The canonical leaf data: ``kind\\tid\\tsha256hex``."""
        return f"{self.kind}\t{self.id}\t{self.sha256}".encode()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def tree_hash(datas: Sequence[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash of the leaf data, in the order given."""
    if not datas:
        return hashlib.sha256(b"").digest()
    level = [leaf_hash(d) for d in datas]
    return _subtree(level)


def _subtree(hashes: Sequence[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return node_hash(_subtree(hashes[:k]), _subtree(hashes[k:]))


def ordered(leaves: Sequence[Leaf]) -> list[Leaf]:
    """The leaves in the one order the root is computed in: (kind, id)."""
    return sorted(leaves, key=lambda leaf: (leaf.kind, leaf.id))


def root_of(leaves: Sequence[Leaf]) -> str:
    """The evidence root (hex) of the leaves as given."""
    return tree_hash([leaf.line for leaf in leaves]).hex()


def order_problems(leaves: Sequence[Leaf]) -> list[str]:
    """Where a list breaks the (kind, id) order or repeats an entry; empty when it is fine."""
    problems = []
    for before, after in itertools.pairwise(leaves):
        if (before.kind, before.id) >= (after.kind, after.id):
            problems.append(f"{after.kind}/{after.id}")
    return problems

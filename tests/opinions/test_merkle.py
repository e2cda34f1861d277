"""The evidence root's Merkle tree: RFC 6962 vectors, order, single leaf, odd counts."""

from __future__ import annotations

import hashlib

import pytest

from server.opinions.merkle import (
    Leaf,
    leaf_hash,
    node_hash,
    order_problems,
    ordered,
    root_of,
    tree_hash,
)

# The Certificate Transparency reference vectors (RFC 6962 test data, merkle_tree_test.cc).
INPUTS = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("n", range(1, 9))
def test_rfc6962_reference_roots(n: int) -> None:
    assert tree_hash([bytes.fromhex(x) for x in INPUTS[:n]]).hex() == ROOTS[n - 1]


def test_no_leaf_is_the_hash_of_nothing() -> None:
    assert tree_hash([]).hex() == hashlib.sha256(b"").hexdigest()


def test_a_single_leaf_is_its_prefixed_hash() -> None:
    leaf = Leaf("photo", "p1", sha("a"))
    assert root_of([leaf]) == hashlib.sha256(b"\x00" + leaf.line).hexdigest()
    assert leaf.line == f"photo\tp1\t{sha('a')}".encode()


def test_an_odd_count_promotes_the_last_subtree_unpaired() -> None:
    a, b, c = (Leaf("photo", name, sha(name)) for name in "abc")
    expected = node_hash(node_hash(leaf_hash(a.line), leaf_hash(b.line)), leaf_hash(c.line))
    assert root_of([a, b, c]) == expected.hex()


def test_order_matters_and_ordered_is_by_kind_then_id() -> None:
    leaves = [
        Leaf("segment", "s1", sha("s")),
        Leaf("photo", "p2", sha("2")),
        Leaf("photo", "p1", sha("1")),
    ]
    sorted_leaves = ordered(leaves)
    assert [(x.kind, x.id) for x in sorted_leaves] == [
        ("photo", "p1"),
        ("photo", "p2"),
        ("segment", "s1"),
    ]
    assert root_of(sorted_leaves) != root_of(leaves)
    assert order_problems(sorted_leaves) == []
    assert order_problems(leaves) == ["photo/p2", "photo/p1"]


def test_one_changed_byte_of_any_hash_changes_the_root() -> None:
    leaves = ordered([Leaf("photo", f"p{i}", sha(str(i))) for i in range(5)])
    root = root_of(leaves)
    for index, leaf in enumerate(leaves):
        changed = list(leaves)
        flipped = ("0" if leaf.sha256[0] != "0" else "1") + leaf.sha256[1:]
        changed[index] = Leaf(leaf.kind, leaf.id, flipped)
        assert root_of(changed) != root


def test_a_duplicate_entry_is_an_order_problem() -> None:
    leaf = Leaf("photo", "p1", sha("a"))
    assert order_problems([leaf, leaf]) == ["photo/p1"]


@pytest.mark.parametrize(
    ("kind", "ident", "digest"),
    [
        ("pho\tto", "p", sha("a")),
        ("photo", "", sha("a")),
        ("photo", "p", "ABC"),
        ("photo", "p\n", sha("a")),
    ],
)
def test_a_malformed_leaf_is_refused(kind: str, ident: str, digest: str) -> None:
    with pytest.raises(ValueError, match="a leaf's"):
        Leaf(kind, ident, digest)

"""Fixtures for the checklist tests: the shipped catalogue and editable copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from checklists.loader import DEFAULT_CATALOGUE_DIR, load_catalogue
from checklists.schema import Catalogue


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def catalogue_copy(tmp_path: Path) -> Path:
    """A copy of the shipped catalogue directory that a test may break or edit."""
    target = tmp_path / "catalogue"
    shutil.copytree(DEFAULT_CATALOGUE_DIR, target)
    return target

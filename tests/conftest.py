"""Shared pytest fixtures."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Tests never read or write the user's own style pack (~/.config/edgerec/styles.json): the
# default pack of every test, and of every command a test runs, is a path that does not exist.
os.environ["EDGEREC_STYLES"] = str(Path(tempfile.mkdtemp(prefix="edgerec-test-styles-")) / "styles.json")


def real_data_root() -> Path:
    """``$EDGEREC_DATA``, else ``<repo>/../shared/data`` (the same default as the loaders)."""
    env = os.environ.get("EDGEREC_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real data folder; tests that need it are skipped when it is absent."""
    root = real_data_root()
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set EDGEREC_DATA to the shared data folder)")
    return root

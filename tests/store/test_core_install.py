"""The core-only install in its own virtualenv, sharing one data directory with this (full) install."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).parents[2] / "benchmarks" / "core_install.py"


@pytest.mark.slow
def test_a_core_install_recommends_from_a_store_the_full_install_built_and_both_keep_the_index(tmp_path):
    """A fresh venv, `pip install <checkout>` core only: no torch, <= 1.5 GB, and `whyrec recommend` works there on a
    data directory this venv ingested; this venv still recommends afterwards, also from a moved model folder."""
    output = tmp_path / "core_install.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--output", str(output), "--keep", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(output.read_text())
    assert result["core"]["heavy_packages_present"] == []
    assert result["core_gb_on_disk"] <= 1.5
    for row in result["shared_store"]:
        assert row["rc"] == 0, row
        assert row["index_kept"] and row["index_count"] == 1682 and row["collections"] == ["whyrec_items"], row
    core_recommends = result["shared_store"][1]
    assert any("1." in line for line in core_recommends["stdout_head"]), core_recommends

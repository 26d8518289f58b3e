"""The cross-validation command end to end, with smoke settings (numbers are not checked)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.slow


def test_crossval_quick_writes_a_complete_report(data_root, tmp_path):
    from training.cli import crossval

    out = tmp_path / "cv"
    result = CliRunner().invoke(crossval, ["--data", str(data_root), "--out", str(out), "--archs", "baseline,edge",
                                           "--folds", "2", "--quick"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rep = json.loads((out / "report.json").read_text())
    assert set(rep["results"]) == {"baseline", "edge"}
    for arch in ("baseline", "edge"):
        r = rep["results"][arch]
        lo, hi = r["clip_ci95"]
        assert 0.0 <= lo <= r["clip"]["macro_f1"] <= hi <= 1.0
        # every in-set clip is tested exactly once across the folds
        assert r["clip"]["n"] == sum(rep["clips"].values())
    exp = rep["experiments"]
    assert set(exp["decimated"]) == {"5.9", "10.0", "15.0"}
    assert 0.0 <= exp["spectral_auc_2_2.5hz_waltz_vs_rest"] <= 1.0
    assert {"mis_timed_model_on_mis_timed_test", "mis_timed_model_on_correctly_timed_test"} <= set(exp["timing"])
    md = (out / "report.md").read_text()
    for heading in ("## Results", "## Frame rate and the band limit", "## Timing", "## Out-of-set dancers"):
        assert heading in md
    assert (out / "macro_f1.png").stat().st_size > 1000

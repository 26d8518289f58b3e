"""The device side stays lean: importing edge and running the CLI's help loads no TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras", "tf2onnx", "sklearn", "librosa", "torch")

PROBE = """
import sys
from click.testing import CliRunner
import edge, edge.core.schema, edge.features, edge.features.audio, edge.classify.calibration, edge.sources.posefile
import edge.core.optional, edge.runtime, edge.recommend, edge.sources, edge.classify.model
from edge.cli import main
for args in ({args}):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, (args, result.output)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print("HEAVY:" + ",".join(heavy))
"""


def _probe(args: list[list[str]]) -> str:
    code = PROBE.format(args=repr([tuple(a) for a in args])[1:-1] + ",", heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(l for l in out.stdout.splitlines() if l.startswith("HEAVY:"))
    return line[len("HEAVY:"):]


def test_edge_and_cli_help_load_no_tensorflow():
    heavy = _probe([["--help"], ["data", "--help"], ["train", "--help"], ["evaluate", "--help"],
                    ["crossval", "--help"], ["convert", "--help"], ["run", "--help"], ["demo", "--help"],
                    ["pose", "--help"], ["pose", "info"], ["bench", "--help"], ["styles", "--help"],
                    ["styles", "add", "--help"], ["styles", "list"], ["fewshot", "--help"]])
    assert heavy == "", f"heavy modules imported: {heavy}"


def test_a_whole_run_loads_no_tensorflow_or_mediapipe(data_root):
    """Running the pipeline itself (recorded landmarks through model and recommender) stays lean."""
    poses = data_root / "videos" / "macarena_mediapipe33.npy"
    code = PROBE.replace("{heavy!r}", repr(HEAVY + ("mediapipe", "jax")))
    code = code.format(args=repr(("run", "--poses", str(poses), "--json", "-q", "--no-dataset-songs")) + ",")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    heavy = next(l for l in out.stdout.splitlines() if l.startswith("HEAVY:"))[len("HEAVY:"):]
    assert heavy == "", f"heavy modules imported by a run: {heavy}"


def test_missing_optional_dependency_names_the_extra():
    from edge.core.optional import MissingDependency, require

    try:
        require("edgerec_no_such_module", "edge", "no-such-package")
    except MissingDependency as exc:
        msg = str(exc)
    else:  # pragma: no cover
        raise AssertionError("require() imported a module that does not exist")
    assert "pip install 'edgerec[edge]'" in msg and "no-such-package" in msg

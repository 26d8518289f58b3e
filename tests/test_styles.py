"""Style packs: teach a style from clips, recognise it live, manage packs, and never read a
malformed or foreign pack, nor leave a half-written one. None of it needs TensorFlow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.classify.model import StyleModel
from edge.classify.packs import (PACK_FORMAT, ModelRef, PackedStyleModel, StylePack, UserStyle, load_pack,
                                 model_ref, parse_pack, save_pack)
from edge.cli import main
from edge.core.assets import default_model_path

REPO = Path(__file__).resolve().parents[1]
TEACH = ("basic__basic", "bodywaves__bodywaves", "footwork__basic_footwork")
HELD_OUT = ("shadow__basic_shadow", "hammerlock__energetic_hammerlock", "cross_body_lead__cross_body_lead")


@pytest.fixture(scope="module")
def bachata(data_root) -> Path:
    folder = data_root / "realvideo" / "bachata"
    if not all((folder / f"{c}_mediapipe33.npy").is_file() for c in TEACH + HELD_OUT):
        pytest.skip(f"the bachata clips are not in {folder}")
    return folder


def _add(pack: Path, folder: Path, *extra: str):
    args = ["styles", "add", "bachata", "--pack", str(pack), "-q", *extra]
    for c in TEACH:
        args += ["--poses", str(folder / f"{c}_mediapipe33.npy")]
    return CliRunner().invoke(main, args)


def _summary(res) -> dict:
    assert res.exit_code == 0, res.output
    return json.loads([line for line in res.output.splitlines() if line.startswith('{"type": "summary"')][-1])


def test_teach_bachata_and_recognise_it_on_other_clips(tmp_path, bachata):
    pack = tmp_path / "styles.json"
    res = _add(pack, bachata)
    assert res.exit_code == 0, res.output
    assert "added 'bachata'" in res.output and "closest styles" in res.output
    p = load_pack(pack)
    assert p.names == ["bachata"] and p.styles[0].windows > 20 and len(p.styles[0].examples) == 3
    for clip in HELD_OUT:
        s = _summary(CliRunner().invoke(main, ["run", "--poses", str(bachata / f"{clip}_mediapipe33.npy"), "--styles",
                                               str(pack), "--json", "-q", "--no-dataset-songs"]))
        assert s["most_shown_style"] == "bachata", (clip, s["style_shares"])
    # the model's own styles are still there: the real salsa dancer stays salsa
    salsa = bachata.parent / "salsa" / "ana_salsa_overlay_mediapipe33.npy"
    s = _summary(CliRunner().invoke(main, ["run", "--poses", str(salsa), "--styles", str(pack), "--json", "-q",
                                           "--no-dataset-songs"]))
    assert s["most_shown_style"] == "salsa", s["style_shares"]


def test_teach_from_a_video_then_run_a_video_end_to_end_without_tensorflow(tmp_path, bachata):
    from edge.pose import POSE_STAGES

    if not POSE_STAGES["native"].available():
        pytest.skip("BlazePose models are not cached; run `edgerec pose fetch`")
    pack = tmp_path / "styles.json"
    code = f"""
import json, sys
from click.testing import CliRunner
from edge.cli import main
args = ["styles", "add", "bachata", "--pack", {str(pack)!r}, "-q"]
for c in {list(TEACH)!r}:
    args += ["--video", {str(bachata)!r} + "/" + c + ".mp4"]
r = CliRunner().invoke(main, args)
assert r.exit_code == 0, r.output
r = CliRunner().invoke(main, ["run", "--video", {str(bachata / (HELD_OUT[0] + '.mp4'))!r}, "--styles", {str(pack)!r},
                              "--json", "-q", "--no-dataset-songs"])
assert r.exit_code == 0, r.output
s = json.loads([l for l in r.output.splitlines() if l.startswith('{{"type": "summary"')][-1])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "mediapipe"))
print(json.dumps({{"style": s["most_shown_style"], "heavy": heavy}}))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"style": "bachata", "heavy": []}, result


def test_only_my_styles_and_a_style_that_was_not_taught(tmp_path, bachata):
    pack = tmp_path / "styles.json"
    assert _add(pack, bachata).exit_code == 0
    salsa = bachata.parent / "salsa" / "ana_salsa_overlay_mediapipe33.npy"
    s = _summary(CliRunner().invoke(main, ["run", "--poses", str(salsa), "--styles", str(pack), "--only-my-styles",
                                           "--json", "-q", "--no-dataset-songs"]))
    assert set(s["style_shares"]) <= {"bachata"}, "only the pack's styles can be shown"
    res = CliRunner().invoke(main, ["run", "--poses", str(salsa), "--only-my-styles", "--no-styles", "-q"])
    assert res.exit_code != 0 and "--only-my-styles needs a style pack" in res.output


def test_music_follows_a_taught_style(tmp_path, bachata):
    pack = tmp_path / "styles.json"
    assert _add(pack, bachata, "--music-tag", "salsa").exit_code == 0
    songs = [{"id": f"s{i}", "title": f"song {i}", "path": f"s{i}.wav", "root": "catalog", "source": "test",
              "licence": "test", "style": style, "bpm": 120.0, "bpm_source": "metadata", "tempo_confidence": 1.0,
              "duration": 60.0, "embedding": {style: 1.0} if style else {}} for i, style in
             enumerate(["waltz", "salsa", None, "rumba"])]
    cat = tmp_path / "catalog.json"
    cat.write_text(json.dumps({"format": "edgerec-catalog", "version": 1, "songs": songs}))
    res = CliRunner().invoke(main, ["run", "--poses", str(bachata / f"{HELD_OUT[0]}_mediapipe33.npy"), "--styles",
                                    str(pack), "--catalog", str(cat), "--json", "-q"])
    updates = [json.loads(line) for line in res.output.splitlines() if line.startswith('{"type": "update"')]
    shown = [u for u in updates if u["style"] == "bachata"]
    assert shown and all(u["recommendations"][0]["id"] == "s1" for u in shown), "the salsa-tagged song comes first"


def test_list_rename_export_import_remove(tmp_path, bachata):
    pack = tmp_path / "styles.json"
    assert _add(pack, bachata).exit_code == 0
    run = lambda *a: CliRunner().invoke(main, ["styles", *a, "--pack", str(pack)])  # noqa: E731
    assert "bachata" in run("list").output
    assert run("rename", "bachata", "bachata sensual").exit_code == 0
    assert load_pack(pack).names == ["bachata sensual"]
    shared = tmp_path / "shared.json"
    assert CliRunner().invoke(main, ["styles", "export", "bachata sensual", "--out", str(shared), "--pack",
                                     str(pack)]).exit_code == 0
    assert run("remove", "bachata sensual").exit_code == 0
    assert load_pack(pack).names == []
    assert run("import", str(shared)).exit_code == 0
    assert load_pack(pack).names == ["bachata sensual"]
    res = run("remove", "tango")
    assert res.exit_code == 1 and "has no style 'tango'" in res.output


def _pack_json(**change) -> dict:
    style = {"name": "x", "mean": [0.0, 1.0], "windows": 3, "examples": ["a.mp4"], "spread": 0.5,
             "music_tags": [], "songs": [], "created": ""}
    doc = {"format": PACK_FORMAT, "version": 1, "model": {"fingerprint": "f" * 64, "name": "m.tflite", "labels": ["a"],
                                                        "embedding_dim": 2, "feature_version": 2},
           "styles": [style]}
    for k, v in change.items():
        if k.startswith("style_"):
            style[k[6:]] = v
        else:
            doc[k] = v
    return doc


@pytest.mark.parametrize("change, fragment", [
    ({"format": "other"}, "not an edgerec style pack"),
    ({"version": 9}, "style pack version 9"),
    ({"model": "x"}, "names no model"),
    ({"styles": "x"}, "styles must be a list"),
    ({"style_mean": [0.0]}, "list of 2 numbers"),
    ({"style_mean": [0.0, "a"]}, "finite number"),
    ({"style_mean": [0.0, 1e300]}, "finite number"),
    ({"style_windows": -1}, "windows"),
    ({"style_name": "../../etc"}, "not a usable style name"),
    ({"style_examples": "a.mp4"}, "list of strings"),
])
def test_malformed_packs_are_refused_in_one_line(change, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")) as info:
        parse_pack(_pack_json(**change), "p.json")
    assert "\n" not in str(info.value) and "p.json" in str(info.value)


def test_pack_files_are_strict_json_and_never_pickles(tmp_path):
    bad = tmp_path / "nan.json"
    bad.write_text(json.dumps(_pack_json()).replace("1.0", "NaN"))
    with pytest.raises(ValueError, match="not a readable style pack"):
        load_pack(bad)
    pickle = tmp_path / "p.json"
    pickle.write_bytes(b"\x80\x04\x95")
    with pytest.raises(ValueError, match="not a readable style pack"):
        load_pack(pickle)
    res = CliRunner().invoke(main, ["styles", "list", "--pack", str(pickle)])
    assert res.exit_code == 1 and res.output.startswith(f"Error: {pickle}: not a readable style pack"), res.output


def test_a_pack_of_another_model_is_refused_naming_both(tmp_path):
    model = StyleModel(default_model_path())
    ref = model_ref(model)
    other = ModelRef("0" * 64, "other.tflite", ref.labels, ref.embedding_dim, ref.feature_version)
    pack = StylePack(other, (UserStyle("x", np.zeros(ref.embedding_dim), 3, ("a",), 0.1),), str(tmp_path / "p.json"))
    with pytest.raises(ValueError) as info:
        PackedStyleModel(model, pack)
    assert "other.tflite" in str(info.value) and ref.name in str(info.value)
    save_pack(pack, tmp_path / "p.json")
    res = CliRunner().invoke(main, ["run", "--poses", "x.npy", "--styles", str(tmp_path / "p.json"), "-q"])
    assert res.exit_code == 1 and "other.tflite" in res.output, res.output


def test_a_killed_styles_add_never_leaves_a_half_written_pack(tmp_path, bachata):
    pack = tmp_path / "styles.json"
    assert _add(pack, bachata).exit_code == 0
    before = pack.read_bytes()
    args = [sys.executable, "-m", "edge.cli", "styles", "add", "again", "--pack", str(pack), "-q"]
    for c in TEACH * 3:
        args += ["--poses", str(bachata / f"{c}_mediapipe33.npy")]
    outcomes = set()
    for delay in (0.3, 0.8, 1.3, 1.8, 2.5):
        proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        p = load_pack(pack)  # always a complete, valid pack: the old one or the new one
        outcomes.add(tuple(p.names))
        assert pack.read_bytes() == before or p.names == ["bachata", "again"]
        if p.names == ["bachata", "again"]:
            pack.write_bytes(before)
    assert outcomes <= {("bachata",), ("bachata", "again")}
    leftovers = [f for f in tmp_path.iterdir() if f.name.startswith(".styles.json.edgerec-")]
    CliRunner().invoke(main, ["styles", "rename", "bachata", "b2", "--pack", str(pack)])
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".styles.json.edgerec-")], \
        f"the next write removes the killed runs' temporary files ({len(leftovers)} before)"

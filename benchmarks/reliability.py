"""The hostile test pass as a report: scripted cases the way users break things, the fuzz
and fault suites, and the soak, counted by outcome into ``reports/reliability/``.

Every scripted case runs ``python -m edge.cli ...`` in a fresh process with a time limit and
is classified by what the user would see:

``ok``           exit 0 (the input was fine after all, e.g. an empty ``--duration`` clip);
``clean error``  a non-zero exit whose last line starts ``Error:`` and no traceback;
``bug``          exit :data:`edge.core.errors.BUG_EXIT` ("internal error ... report it");
``traceback``    a Python traceback reached the user;
``hang``         the time limit passed;
``crash``        the process died of a signal it did not ask for.

The artefact rule is checked for the write cases: after the run, the final path holds a
valid artefact (it parses or plays) or nothing.

``edgerec bench reliability`` regenerates the whole report.
"""

from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from edge.core import jsonio
from edge.core.errors import BUG_EXIT
from edge.core.files import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
OUTCOMES = ("ok", "clean error", "bug", "traceback", "hang", "crash")


@dataclass(frozen=True)
class Case:
    """One scripted way to break a command: ``args`` with ``{tmp}`` and ``{data}`` filled in."""

    kind: str
    name: str
    args: tuple[str, ...]
    #: Prepares files in the case's folder before the run (given that folder).
    setup: Optional[Callable[[Path], None]] = None
    #: An artefact the command writes: it must be valid or absent afterwards.
    artefact: Optional[str] = None
    #: Send this signal after ``signal_after`` seconds (fault injection).
    signal: Optional[int] = None
    signal_after: float = 2.0
    timeout: float = 120.0


@dataclass(frozen=True)
class Outcome:
    case: Case
    outcome: str
    returncode: Optional[int]
    seconds: float
    message: str
    artefact_ok: Optional[bool] = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.case.kind, "name": self.case.name, "args": list(self.case.args), "outcome": self.outcome,
                "returncode": self.returncode, "seconds": round(self.seconds, 3), "message": self.message,
                "artefact_ok": self.artefact_ok}


# ------------------------------------------------------------------ bad files, made per case


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda d: (d / name).write_bytes(data)


def _npy(name: str, arr: Any) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        np.save(d / name, arr, allow_pickle=True)
    return make


def _fifo(name: str) -> Callable[[Path], None]:
    return lambda d: os.mkfifo(d / name)


def _loop(name: str) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        os.symlink(d / (name + ".b"), d / name)
        os.symlink(d / name, d / (name + ".b"))
    return make


def _folder(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).mkdir()


def _deep_json(depth: int = 100000) -> bytes:
    return b"[" * depth + b"]" * depth


def _m2d_clip(content: bytes, gz: bool = True) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        clip = d / "data" / "music2dance" / "DANCE_W_1"
        clip.mkdir(parents=True)
        (clip / "skeletons.json.gz").write_bytes(gzip.compress(content) if gz else content)
    return make


def _flip_model(src: Path) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        from edge.classify.metadata import TFLiteFile

        data = bytearray(src.read_bytes())
        start, n = max(TFLiteFile.parse(bytes(data)).buffers, key=lambda b: b[1])
        data[start + n // 2] ^= 0x40
        (d / "flipped.tflite").write_bytes(bytes(data))
    return make


def _card_with(src: Path, change: Callable[[dict], None], name: str) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        from converters.tflite import embed_card
        from edge.classify.metadata import read_card

        card = read_card(src)
        card.pop("format", None)
        change(card)
        (d / name).write_bytes(embed_card(src.read_bytes(), card))
    return make


def _both(*makers: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        for m in makers:
            m(d)
    return make


def _long_poses(data: Path, frames: int = 12000) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        arr = np.load(data / "videos" / "macarena_mediapipe33.npy")
        np.save(d / "long.npy", np.concatenate([arr] * (frames // len(arr) + 1))[:frames])
    return make


def _audio_folder(d: Path, n: int = 12, seconds: float = 20.0) -> None:
    import soundfile as sf

    music = d / "music"
    music.mkdir()
    t = np.arange(int(22050 * seconds)) / 22050
    for i in range(n):
        beat = (np.sin(2 * np.pi * (1.5 + i * 0.1) * t) > 0.95).astype(np.float32)
        sf.write(music / f"song{i}.wav", 0.3 * beat * np.sin(2 * np.pi * 440 * t), 22050)


def cases(data: Path) -> list[Case]:
    """The scripted cases (the table the report counts)."""
    from edge.core.assets import default_model_path

    model = default_model_path()
    poses = str(data / "videos" / "macarena_mediapipe33.npy")
    run = ("run", "--no-dataset-songs", "-q")
    out: list[Case] = []

    # inputs that are not what they say
    bad_inputs = {
        "missing file": (None, "{tmp}/missing.npy"),
        "a folder": (_folder("dir.npy"), "{tmp}/dir.npy"),
        "/dev/zero": (None, "/dev/zero"),
        "a FIFO": (_fifo("fifo.npy"), "{tmp}/fifo.npy"),
        "a symlink loop": (_loop("loop.npy"), "{tmp}/loop.npy"),
        "empty file": (_write("empty.npy", b""), "{tmp}/empty.npy"),
        "random bytes": (_write("noise.npy", os.urandom(4096)), "{tmp}/noise.npy"),
        "truncated .npy": (lambda d: (d / "t.npy").write_bytes(Path(poses).read_bytes()[:5000]), "{tmp}/t.npy"),
        ".npz archive": (lambda d: np.savez(d / "a.npz", x=np.zeros((10, 33, 4))), "{tmp}/a.npz"),
        "structured dtype": (_npy("s.npy", np.zeros(10, dtype=[("x", "f4"), ("y", "f4")])), "{tmp}/s.npy"),
        "object array": (_npy("o.npy", np.array([{"a": 1}], dtype=object)), "{tmp}/o.npy"),
        "wrong shape": (_npy("w.npy", np.zeros((10, 17, 2))), "{tmp}/w.npy"),
        "NaN landmarks": (_npy("nan.npy", np.full((300, 33, 4), np.nan, np.float32)), "{tmp}/nan.npy"),
        "one frame": (_npy("one.npy", np.zeros((1, 33, 4), np.float32)), "{tmp}/one.npy"),
    }
    for name, (setup, path) in bad_inputs.items():
        out.append(Case("landmark input", name, (*run, "--poses", path, "--fps", "30", "--size", "640x480"), setup))
    for name, (setup, path) in bad_inputs.items():
        if name in ("NaN landmarks", "one frame", "wrong shape", "structured dtype", "object array", ".npz archive"):
            continue
        p = path.replace(".npy", ".tflite")
        s = setup
        if setup is not None and name not in ("/dev/zero",):
            s = {"a folder": _folder("dir.tflite"), "a FIFO": _fifo("fifo.tflite"), "a symlink loop": _loop("loop.tflite"),
                 "empty file": _write("empty.tflite", b""), "random bytes": _write("noise.tflite", os.urandom(4096)),
                 "truncated .npy": lambda d: (d / "t.tflite").write_bytes(model.read_bytes()[:5000])}.get(name, setup)
        out.append(Case("model file", name, (*run, "--poses", poses, "--model", p), s))
    out.append(Case("model file", "bit-flipped weights", (*run, "--poses", poses, "--model", "{tmp}/flipped.tflite"),
                    _flip_model(model)))
    out.append(Case("model file", "temperature 0 in the card",
                    (*run, "--poses", poses, "--model", "{tmp}/t0.tflite"),
                    _card_with(model, lambda c: c["calibration"].update(temperature=0.0), "t0.tflite")))
    out.append(Case("model file", "labels of the wrong type",
                    (*run, "--poses", poses, "--model", "{tmp}/lab.tflite"),
                    _card_with(model, lambda c: c.update(labels="salsa"), "lab.tflite")))
    for name, content in {"empty": b"", "not JSON": b"{not json", "a list": b"[1, 2]",
                          "nested too deeply": _deep_json(), "songs of the wrong type": b'{"format": "edgerec-catalog", '
                          b'"version": 1, "songs": "x"}', "a package root": b'{"format": "edgerec-catalog", "version": 1,'
                          b' "songs": [{"id": "a", "title": "a", "path": "../../../etc/passwd", "root": "package:os", '
                          b'"source": "x", "licence": "x", "style": null, "bpm": 100, "bpm_source": "audio", '
                          b'"tempo_confidence": 1, "duration": 1}]}'}.items():
        out.append(Case("catalogue", name, ("catalog", "info", "{tmp}/c.json"), _write("c.json", content)))
        out.append(Case("catalogue", f"{name} (run)", (*run, "--poses", poses, "--catalog", "{tmp}/c.json"),
                        _write("c.json", content)))
    for name, content, gz in (("corrupt deflate", b"", False), ("JSON of the wrong type", b"[1, 2, 3]", True),
                              ("nested too deeply", _deep_json(), True), ("empty JSON", b"", True),
                              ("strings for numbers", b'{"skeletons": "abc"}', True)):
        setup = _m2d_clip(content, gz) if name != "corrupt deflate" else \
            (lambda d: (_m2d_clip(b"", False)(d), (d / "data/music2dance/DANCE_W_1/skeletons.json.gz")
                        .write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(200))))
        out.append(Case("dataset folder", name, ("data", "info", "{tmp}/data"), setup))
    out.append(Case("dataset folder", "empty folder", ("data", "info", "{tmp}/data"), _folder("data")))
    out.append(Case("dataset folder", "a FIFO among the clips", ("data", "info", "{tmp}/data"),
                    lambda d: ((d / "data" / "aistpp").mkdir(parents=True), os.mkfifo(d / "data" / "aistpp" / "x.npy"))))
    bachata = data / "realvideo" / "bachata"
    teach = [a for c in ("basic__basic", "bodywaves__bodywaves", "footwork__basic_footwork")
             for a in ("--poses", str(bachata / f"{c}_mediapipe33.npy"))]
    for name, content in {"empty": b"", "not JSON": b"{not json", "a pickle": b"\x80\x04\x95\x00",
                          "another format": b'{"format": "edgerec-catalog", "version": 1}',
                          "NaN in a mean": b'{"format": "edgerec-style-pack", "version": 1, "model": {"fingerprint": '
                          b'"x", "name": "m", "labels": [], "embedding_dim": 2, "feature_version": 2}, "styles": '
                          b'[{"name": "a", "mean": [NaN, 1], "windows": 3}]}',
                          "another model": b'{"format": "edgerec-style-pack", "version": 1, "model": {"fingerprint": '
                          b'"0000", "name": "other.tflite", "labels": [], "embedding_dim": 64, "feature_version": 2},'
                          b' "styles": []}'}.items():
        out.append(Case("style pack", name, (*run, "--poses", poses, "--styles", "{tmp}/p.json"),
                        _write("p.json", content)))
    out.append(Case("style pack", "a style from /dev/zero", ("styles", "add", "x", "--poses", "/dev/zero", "--pack",
                                                             "{tmp}/p.json")))
    out.append(Case("style pack", "a bad style name", ("styles", "add", "a/b", *teach, "--pack", "{tmp}/p.json")))
    out.append(Case("pose models", "a wheel that is not a zip", ("pose", "fetch", "--wheel", "{tmp}/w.whl", "--dest",
                                                                  "{tmp}/pose"), _write("w.whl", b"not a zip")))
    out.append(Case("camera", "picamera2 not installed", (*run, "--camera", "picamera2", "--max-frames", "1")))
    out.append(Case("camera", "no camera at index 7", (*run, "--camera", "7", "--max-frames", "1")))

    for opt, values in {"--fps": ("nan", "inf", "1e-300", "-1", "0", "abc"),
                        "--every": ("1e-9", "0", "-1", "nan"),
                        "--size": ("100000x100000", "0x0", "axb"),
                        "--top": ("0", "-1"), "--threads": ("0", "100000"),
                        "--duration": ("nan", "0"), "--max-frames": ("0",), "--pose-every": ("0",)}.items():
        for v in values:
            out.append(Case("numbers", f"{opt} {v}", (*run, "--poses", poses, opt, v)))

    # writes that cannot succeed, and signals during writes
    out.append(Case("writes", "--save into a missing folder", (*run, "--poses", poses, "--save", "{tmp}/no/x.mp4")))
    out.append(Case("writes", "--save as .txt", (*run, "--poses", poses, "--save", "{tmp}/x.txt")))
    out.append(Case("writes", "--save over a folder", (*run, "--poses", poses, "--save", "{tmp}/d.mp4"),
                    _folder("d.mp4")))
    out.append(Case("writes", "catalog --out over a folder", ("catalog", "build", "{tmp}/music", "--out", "{tmp}/d",
                                                              "--no-progress"),
                    _both(_audio_folder, _folder("d"))))
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL):
        name = signal.Signals(sig).name
        out.append(Case("signals", f"{name} during --save", (*run, "--poses", "{tmp}/long.npy", "--fps", "30", "--size",
                                                             "320x240", "--save", "{tmp}/out.mp4"),
                        _long_poses(data), artefact="{tmp}/out.mp4", signal=sig, signal_after=3.0))
        out.append(Case("signals", f"{name} during catalog build",
                        ("catalog", "build", "{tmp}/music", "--out", "{tmp}/cat.json", "--no-progress"),
                        lambda d: _audio_folder(d, 150, 10.0), artefact="{tmp}/cat.json", signal=sig,
                        signal_after=1.5))
        out.append(Case("signals", f"{name} during styles add",
                        ("styles", "add", "mine", *(teach * 4), "--pack", "{tmp}/styles.json", "-q"),
                        artefact="{tmp}/styles.json", signal=sig, signal_after=1.5))
    return out


# ------------------------------------------------------------------ running them


def _artefact_ok(path: Path) -> Optional[bool]:
    """True: a valid artefact; False: something broken at the path; None: nothing there."""
    if not path.exists():
        return None
    try:
        if path.suffix in (".mp4", ".avi", ".mkv", ".mov"):
            import cv2

            cap = cv2.VideoCapture(str(path))
            ok = cap.isOpened() and cap.read()[0]
            cap.release()
            return bool(ok)
        if path.name == "styles.json":
            from edge.classify.packs import load_pack

            load_pack(path)
            return True
        if path.suffix == ".json":
            from edge.recommend.catalog import load_catalog

            load_catalog(path)
            return True
    except Exception:  # noqa: BLE001 - any failure to read it back means it is broken
        return False
    return True


def classify(returncode: Optional[int], output: str, timed_out: bool, sent: Optional[int]) -> str:
    """The outcome of one run, as the user would see it."""
    if timed_out:
        return "hang"
    if "Traceback (most recent call last)" in output:
        return "traceback"
    if returncode == BUG_EXIT:
        return "bug"
    if returncode is not None and returncode < 0 and -returncode != sent:
        return "crash"
    if returncode == 0:
        return "ok"
    if sent is not None and returncode in (-sent, 128 + sent):
        return "clean error"  # stopped as asked, and said so
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return "clean error" if lines and lines[-1].startswith("Error: ") else "traceback"


def run_case(case: Case, data: Path) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="edgerec-reliability-") as folder:
        tmp = Path(folder)
        if case.setup is not None:
            case.setup(tmp)
        args = [a.replace("{tmp}", str(tmp)).replace("{data}", str(data)) for a in case.args]
        env = {**os.environ, "EDGEREC_DATA": str(data), "EDGEREC_CACHE": os.environ.get("EDGEREC_CACHE", "")}
        env = {k: v for k, v in env.items() if v != "" or k != "EDGEREC_CACHE"}
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "edge.cli", *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace")
        timed_out = False
        try:
            if case.signal is not None:
                try:
                    proc.wait(timeout=case.signal_after)
                except subprocess.TimeoutExpired:
                    proc.send_signal(case.signal)
            output, _ = proc.communicate(timeout=case.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            timed_out = True
        seconds = time.monotonic() - t0
        outcome = classify(proc.returncode, output, timed_out, case.signal)
        artefact = None
        if case.artefact:
            artefact = _artefact_ok(Path(case.artefact.replace("{tmp}", str(tmp))))
            if artefact is False:
                outcome = "bug"  # a broken file at the final path is the worst outcome of all
        lines = [line for line in output.strip().splitlines() if line.strip()]
        message = lines[-1][:300] if lines else ""
        return Outcome(case, outcome, proc.returncode, seconds, message, artefact)


def run_cases(selected: list[Case], data: Path, progress: Callable[[str], None] = lambda m: None) -> list[Outcome]:
    results = []
    for i, case in enumerate(selected, 1):
        r = run_case(case, data)
        progress(f"[{i}/{len(selected)}] {case.kind}: {case.name}: {r.outcome} ({r.seconds:.1f} s)")
        results.append(r)
    return results


def run_suites(examples: int, progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """The fuzz, reader and fault test files under pytest; counts of passed/failed tests and,
    from Hypothesis's statistics, of fuzz examples."""
    files = [f for f in ("tests/test_fuzz.py", "tests/test_readers.py", "tests/test_faults.py") if (REPO / f).is_file()]
    env = {**os.environ, "EDGEREC_FUZZ_EXAMPLES": str(examples)}
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files], cwd=REPO, env=env,
                         capture_output=True, text=True)
    text = res.stdout + res.stderr
    last = [line for line in text.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)",
                                                   last[-1] if last else "")}
    # the fuzz suite's own table: "  NAME   N examples: R results, C clean errors, F failures"
    readers = {m[0].strip(): {"examples": int(m[1]), "results": int(m[2]), "clean errors": int(m[3]),
                              "failures": int(m[4])}
               for m in re.findall(r"^\s+(\S.*?)\s+(\d+) examples:\s+(\d+) results,\s+(\d+) clean errors,\s+"
                                   r"(\d+) failures", text, re.M)}
    seconds = round(time.monotonic() - t0, 1)
    progress(f"suites: {counts} in {seconds:.0f} s; fuzz: {sum(r['examples'] for r in readers.values())} examples, "
             f"{sum(r['failures'] for r in readers.values())} failures")
    return {"files": files, "tests": counts, "fuzz": readers, "examples_setting": examples, "seconds": seconds,
            "returncode": res.returncode}


def run_soak(out: Path, data: Path, frames: int, progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """:mod:`benchmarks.soak` in a fresh process (so its memory is the replay's alone);
    writes ``out/soak.json`` and ``out/soak.png`` and returns the numbers with a sentence."""
    import json

    res = subprocess.run([sys.executable, "-m", "benchmarks.soak", "--frames", str(frames), "--out", str(out), "-q"],
                         cwd=REPO, env={**os.environ, "EDGEREC_DATA": str(data)}, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"the soak failed: {(res.stderr or res.stdout).strip().splitlines()[-1:]}")
    r = json.loads((out / "soak.json").read_text())
    text = (f"`python -m benchmarks.soak --frames {r['frames']}`: {r['frames']:,} frames of a real dancer's "
            f"landmarks replayed through `edgerec run --poses` in {r['wall_seconds']:.0f} s. Resident memory "
            f"{r['rss_warmup_mib']} MiB after the warm-up, {r['rss_end_mib']} MiB at the end: "
            f"{r['growth_pct']:+.2f}% ({r['growth_bytes_per_frame']} bytes a frame; the target was under 5%). "
            f"Frames per second: {r['fps_first_quarter']} in the first quarter, {r['fps_last_quarter']} in the last.")
    progress("soak: " + text)
    return {**{k: r[k] for k in ("frames", "wall_seconds", "rss_warmup_mib", "rss_end_mib", "growth_pct",
                                 "growth_bytes_per_frame", "fps_first_quarter", "fps_last_quarter")}, "text": text}


def summarise(results: list[Outcome]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for r in results:
        row = table.setdefault(r.case.kind, {k: 0 for k in OUTCOMES})
        row[r.outcome] += 1
    return table


def render(doc: dict[str, Any]) -> str:
    lines = ["# Reliability: edgerec tested the way users break things", "",
             f"Regenerate: `{doc['command']}` (one run; {doc['machine']}; commit {doc['commit']}; "
             f"{doc['seconds']:.0f} s).", "",
             "## Scripted cases", "",
             f"Each case runs `python -m edge.cli ...` in a fresh process (time limit per case). "
             f"{len(doc['cases'])} cases.", "",
             "| kind | cases | " + " | ".join(OUTCOMES) + " |", "|---|---:|" + "---:|" * len(OUTCOMES)]
    total = {k: 0 for k in OUTCOMES}
    for kind, row in doc["summary"].items():
        lines.append(f"| {kind} | {sum(row.values())} | " + " | ".join(str(row[k]) for k in OUTCOMES) + " |")
        for k in OUTCOMES:
            total[k] += row[k]
    lines.append(f"| **all** | {sum(total.values())} | " + " | ".join(f"**{total[k]}**" for k in OUTCOMES) + " |")
    bad = [c for c in doc["cases"] if c["outcome"] in ("bug", "traceback", "hang", "crash")]
    lines += ["", "Cases that were not handled: " + ("none." if not bad else "")]
    for c in bad:
        lines.append(f"- {c['kind']}: {c['name']}: **{c['outcome']}** (exit {c['returncode']}): `{c['message']}`")
    writes = [c for c in doc["cases"] if c["artefact_ok"] is not None or c["kind"] == "signals"]
    lines += ["", "## Faults survived (the final path: a valid artefact or nothing)", "",
              "| case | exit | at the final path | last line |", "|---|---:|---|---|"]
    for c in writes:
        state = {True: "valid", False: "BROKEN", None: "nothing"}[c["artefact_ok"]]
        lines.append(f"| {c['name']} | {c['returncode']} | {state} | `{c['message'][:90]}` |")
    lines += ["", "## Every case", "", "| kind | case | outcome | exit | s | last line |", "|---|---|---|---:|---:|---|"]
    for c in doc["cases"]:
        lines.append(f"| {c['kind']} | {c['name']} | {c['outcome']} | {c['returncode']} | {c['seconds']:.1f} | "
                     f"`{c['message'][:100].replace('|', '/')}` |")
    s = doc.get("suites")
    if s:
        lines += ["", "## Fuzz, reader and fault suites", "",
                  f"`pytest {' '.join(s['files'])}` with `EDGEREC_FUZZ_EXAMPLES={s['examples_setting']}`: "
                  f"tests {s['tests']}, {s['seconds']:.0f} s (exit {s['returncode']}).", "",
                  "The fuzzer (Hypothesis, derandomised) feeds every reader random bytes, mutations (bit flips, "
                  "truncations, splices) of valid files and JSON of random shape. A *result* is a valid parse; a "
                  "*clean error* the reader's one-line `ValueError`/`OSError` naming the file; a *failure* anything "
                  "else (another exception, or no answer within 5 s).", "",
                  "| reader | examples | results | clean errors | failures |", "|---|---:|---:|---:|---:|"]
        for name, r in sorted(s["fuzz"].items()):
            lines.append(f"| {name} | {r['examples']} | {r['results']} | {r['clean errors']} | {r['failures']} |")
        tot = {k: sum(r[k] for r in s["fuzz"].values()) for k in ("examples", "results", "clean errors", "failures")}
        lines.append(f"| **all** | {tot['examples']} | {tot['results']} | {tot['clean errors']} | **{tot['failures']}** |")
    soak = doc.get("soak")
    if soak:
        lines += ["", "## Soak", "", soak.get("text", ""), "", "![resident memory over the soak](soak.png)"]
    return "\n".join(lines) + "\n"


def _machine() -> str:
    import platform

    from benchmarks.env import available_cores, cpu_model

    return f"{cpu_model()}, {len(available_cores())} cores, Python {platform.python_version()}"


def write_report(out: Path, data: Path, command: str, examples: int = 200, soak_frames: int = 0,
                 progress: Callable[[str], None] = lambda m: None) -> Path:
    """Run everything and write ``out/report.md`` and ``out/report.json`` atomically."""
    t0 = time.monotonic()
    from benchmarks.env import git_commit

    commit = git_commit() or "unknown"  # before this run rewrites the committed report files
    results = run_cases(cases(data), data, progress)
    suites = run_suites(examples, progress) if examples > 0 else None
    soak = run_soak(out, data, soak_frames, progress) if soak_frames > 0 else None
    doc = {"command": command, "machine": _machine(), "commit": commit, "seconds": time.monotonic() - t0,
           "summary": summarise(results), "cases": [r.to_json() for r in results], "suites": suites, "soak": soak}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "report.json", jsonio.dumps(doc, indent=1) + "\n")
    atomic_write_text(out / "report.md", render(doc))
    return out / "report.md"


__all__ = ["Case", "Outcome", "OUTCOMES", "cases", "classify", "run_case", "run_cases", "run_suites", "summarise",
           "render", "write_report"]

"""``edgerec convert``: joined to the ``edgerec`` group through the ``edgerec.commands`` entry points.

The choices come from :data:`edge.classify.formats.FORMATS`; nothing heavy is imported until the
command runs, so ``edgerec convert --help`` loads no TensorFlow.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click

from edge.classify.formats import DEFAULT_QUANT, FORMATS, TARGETS, quants
from edge.cli.types import Finite
from edge.core import jsonio


def _quant_help() -> str:
    parts = [f"{t}: {', '.join(quants(t))} (default {DEFAULT_QUANT[t]})" for t in TARGETS]
    return "Quantisation. " + "; ".join(parts) + "."


def _formats_epilog() -> str:
    rows = [f"{f.name}: {f.description}; checked to max |dp| <= {f.max_abs_diff:g} and top-1 agreement "
            f">= {f.min_agreement:.0%}" for f in FORMATS]
    return "Formats:\n\n" + "\n\n".join(rows)


@click.command(epilog=_formats_epilog())
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to", "target", type=click.Choice(TARGETS), default=TARGETS[0], show_default=True,
              help="Target format.")
@click.option("--quant", type=click.Choice(quants()), default=None, help=_quant_help())
@click.option("--calibration", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data folder (laid out like ../shared/data) for representative windows (int8, static).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data folder for the held-out check (default: --calibration, else the card's data root).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: MODEL's name with the quantisation and the format's suffix).")
@click.option("--threads", default=1, show_default=True, help="Runtime threads for the check.")
@click.option("--max-diff", type=Finite(0.0, 1.0), default=None, help="Override the format's max |dp| limit.")
@click.option("--min-agreement", type=Finite(0.0, 1.0), default=None, help="Override the format's top-1 agreement limit (0-1).")
@click.option("--accept-mismatch", is_flag=True,
              help="Write the file even if it fails the parity check (its card then says passed: false).")
@click.option("--json", "as_json", is_flag=True, help="Print the converted file's export record as JSON.")
def convert(model: Path, target: str, quant: Optional[str], calibration: Optional[Path], data_dir: Optional[Path],
            out: Optional[Path], threads: int, max_diff: Optional[float], min_agreement: Optional[float],
            accept_mismatch: bool, as_json: bool) -> None:
    """Convert a trained Keras MODEL to TFLite or ONNX, check it against Keras, embed its card."""
    from training.cli import quiet_tensorflow
    from edge.classify.formats import get_format

    quiet_tensorflow()
    try:
        fmt = get_format(target, quant)
    except ValueError as exc:
        raise click.BadParameter(str(exc).replace("--quant ", "", 1), param_hint="--quant") from None
    from converters.convert import convert_model

    try:
        result = convert_model(model, fmt.target, fmt.quant, out, calibration, data_dir, max_abs_diff=max_diff,
                               min_agreement=min_agreement, threads=threads, progress=not as_json,
                               accept_mismatch=accept_mismatch)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc).splitlines()[0] if str(exc) else repr(exc)) from None
    if as_json:
        click.echo(jsonio.dumps({"path": str(result.path), "size": result.size, **result.card["export"]}, indent=1))
        return
    click.echo(f"wrote {result.path} ({result.size / 1024:.0f} KiB, {fmt.name}) in {result.seconds} s")
    click.echo(f"checked against Keras: {result.parity.summary()}")
    click.echo(f"  inputs: {result.parity.inputs}")
    calibration = result.card["export"].get("calibration")
    if calibration:
        click.echo(f"  calibrated on {calibration['source']}")
    held = (result.card["export"].get("metrics") or {}).get("held_out")
    if held:
        k, c = held["keras"].get("window", {}), held["converted"].get("window", {})
        if k and c:
            click.echo(f"held-out window macro-F1: Keras {k['macro_f1']:.3f}, converted {c['macro_f1']:.3f}")
    for note in result.notes:
        click.echo(f"note: {note}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(convert())


@click.command("export-report")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data folder (default: $EDGEREC_DATA or ../shared/data).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/conversion"), show_default=True)
@click.option("--work", "work_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/conversion"), show_default=True, help="Where the trained and converted models go.")
@click.option("--archs", default="edge,paper", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--reuse", is_flag=True, help="Score the models already in --work instead of retraining/converting.")
def export_report(data_dir: Optional[Path], out_dir: Path, work_dir: Path, archs: str, seed: int, reuse: bool) -> None:
    """Train edge and paper, convert each to every format, and report size, agreement and accuracy."""
    from training.cli import quiet_tensorflow
    from training.datasets import data_root

    quiet_tensorflow()
    from converters.report import run_export_report

    try:
        path = run_export_report(data_dir or data_root(), out_dir, work_dir,
                                 tuple(a for a in archs.split(",") if a), seed, reuse)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from exc
    click.echo(f"wrote {path}")


@click.command("build")
@click.option("--variant", "variants", multiple=True, help="variant(s) to build (default: every buildable one)")
@click.option("--calibrate", "videos", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="video whose frames calibrate the static int8 variant (repeatable; without it int8 is skipped)")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="pose model cache (default: where `edgerec pose fetch` put the models)")
def pose_build(variants: tuple[str, ...], videos: tuple[Path, ...], dest: Optional[Path]) -> None:
    """Build the ONNX variants of the BlazePose models (float32, dynamic, float16, int8)."""
    from training.cli import quiet_tensorflow

    quiet_tensorflow()
    from converters.pose import build_pose_variants

    try:
        written = build_pose_variants(dest, list(variants) or None, list(videos))
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None
    for path in written:
        click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")

"""The few-shot report: ``reports/fewshot/report.md``, ``report.json`` and
``accuracy_vs_k.png``, rendered from :func:`training.fewshot.run_fewshot`'s result.

Every number comes from the one run that wrote the files; the header says the machine,
the command, the draws and the seed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Optional

from edge import __version__
from edge.core import jsonio
from edge.core.files import atomic_write_bytes, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
#: The leave-one-dancer-out real-video report: the fair reference for the base classifier.
REALVIDEO_JSON = REPO / "reports" / "realvideo" / "report.json"
PLOT = "accuracy_vs_k.png"
SHIPPED = "shipped model"
FOLDS = "fold models"


def realvideo_reference(path: Path = REALVIDEO_JSON) -> Optional[dict[str, Any]]:
    """The unseen-dancer numbers of ``reports/realvideo/report.json`` (None when absent)."""
    try:
        rep = json.loads(Path(path).read_text())
        models = rep["models"]
        out: dict[str, Any] = {"file": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path),
                               "command": rep.get("command"), "seed": rep.get("seed"), "seconds": rep.get("seconds")}
        for key in ("edge", "baseline"):
            u = models[key]["unseen_dancers"]
            out[key] = {k: u.get(k) for k in ("clips_right", "windows_right", "in_set_unsure")}
        return out
    except (OSError, ValueError, KeyError, TypeError):
        return None


# ------------------------------------------------------------------ formatting


def _f(x: Optional[float], nd: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def _iv(ci: Any) -> str:
    if not ci or ci[0] is None:
        return "n/a"
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def clips_cell(s: Optional[dict], wilson: bool = True) -> str:
    """``rate [two-way bootstrap] (k/n)``, with Wilson's interval after ``W``."""
    if not s or not s.get("clips") or s["clips"].get("rate") is None:
        return "n/a"
    c = s["clips"]
    cell = f"{c['rate']:.2f} {_iv(c.get('ci95_boot'))} ({c['k']}/{c['n']})"
    return cell + (f"; W {_iv(c.get('ci95'))}" if wilson else "")


def rate_cell(r: Optional[dict]) -> str:
    if not r or r.get("rate") is None:
        return "n/a"
    return f"{r['rate']:.2f} ({r['k']}/{r['n']})"


def _maj(m: Optional[dict]) -> str:
    if not m:
        return "n/a"
    return ", ".join(f"{k} {v}" for k, v in sorted(m.items(), key=lambda kv: (-kv[1], kv[0])))


def _get(d: Any, *path: Any) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def target_row(result: dict, res: Optional[dict] = None) -> dict[str, Any]:
    """The done-when check on ``res`` (default: the shipped model's measurement): k =
    target_k, salsa clips of a dancer who gave no example."""
    st = result["settings"]
    res = result if res is None else res
    s = _get(res, "by_k", str(st["target_k"]), "pack_salsa", "clips") or {}
    v = s.get("rate")
    boot = s.get("ci95_boot")
    return {"k": st["target_k"], "wanted": st["target"], "rate": v, "ci95_boot": boot, "ci95": s.get("ci95"),
            "n": s.get("n"), "right": s.get("k"), "met": v is not None and v >= st["target"],
            "lower_bound_met": bool(boot and boot[0] is not None and boot[0] >= st["target"])}


def _yes(b: bool) -> str:
    return "yes" if b else "**no**"


# ------------------------------------------------------------------ sections shared by both models


def accuracy_tables(res: dict, ks: list[str], nn: bool) -> list[str]:
    byk = res["by_k"]
    head = "| k | salsa, leave one dancer out | bachata (same couple) |"
    rule = "|---|---|---|"
    if nn:
        head += " 1-NN baseline, salsa | 1-NN baseline, bachata |"
        rule += "---|---|"
    L = [head, rule]
    for k in ks:
        b = byk[k]
        row = f"| {k} | {clips_cell(b['pack_salsa'])} | {clips_cell(b['pack_bachata'])} |"
        if nn:
            row += f" {clips_cell(b.get('nn_salsa'))} | {clips_cell(b.get('nn_bachata'))} |"
        L.append(row)
    L += ["", "Updates (what the screen shows every 0.5 s) and raw windows:", ""]
    head = ("| k | salsa updates right | salsa updates unsure | bachata updates right | bachata updates unsure | "
            "windows right (salsa / bachata) |")
    rule = "|---|---|---|---|---|---|"
    if nn:
        head += " 1-NN windows right (salsa / bachata) |"
        rule += "---|"
    L += [head, rule]
    for k in ks:
        b = byk[k]
        row = (f"| {k} | {rate_cell(b['pack_salsa'].get('updates_right'))} | "
               f"{rate_cell(b['pack_salsa'].get('updates_unsure'))} | "
               f"{rate_cell(b['pack_bachata'].get('updates_right'))} | "
               f"{rate_cell(b['pack_bachata'].get('updates_unsure'))} | "
               f"{_f(_get(b, 'pack_salsa', 'windows_right', 'rate'))} / "
               f"{_f(_get(b, 'pack_bachata', 'windows_right', 'rate'))} |")
        if nn:
            row += (f" {_f(_get(b, 'nn_salsa', 'windows_right', 'rate'))} / "
                    f"{_f(_get(b, 'nn_bachata', 'windows_right', 'rate'))} |")
        L.append(row)
    groups = sorted({g for k in ks for g in (byk[k]["pack_salsa"].get("per_group") or {})})
    L += ["", "Salsa clips right per test dancer (the dancer's clips x draws; Wilson intervals):", "",
          "| k | " + " | ".join(groups) + " |", "|---|" + "---|" * len(groups)]
    for k in ks:
        pg = byk[k]["pack_salsa"].get("per_group") or {}
        L.append(f"| {k} | " + " | ".join(
            f"{rate_cell(pg.get(g))} {_iv((pg.get(g) or {}).get('ci95'))}" for g in groups) + " |")
    L.append("")
    return L


def mixed_table(res: dict, ks: list[str], own_salsa_note: str) -> list[str]:
    byk, base = res["by_k"], res["base"]
    L = ["| k | bachata clips showing bachata | salsa clips still showing salsa | bachata updates unsure | "
         "salsa updates unsure | salsa clips' majorities |", "|---|---|---|---|---|---|",
         "| 0 (the model alone) | 0.00 (not a style it knows; majorities: "
         f"{_maj(base['bachata'].get('majorities'))}) | "
         f"{rate_cell(base['salsa']['clips'])} | {rate_cell(base['bachata'].get('updates_unsure'))} | "
         f"{rate_cell(base['salsa'].get('updates_unsure'))} | {_maj(base['salsa'].get('majorities'))} |"]
    for k in ks:
        b = byk[k]
        L.append(f"| {k} | {clips_cell(b['mixed_bachata'], False)} | {clips_cell(b['mixed_salsa'], False)} | "
                 f"{rate_cell(b['mixed_bachata'].get('updates_unsure'))} | "
                 f"{rate_cell(b['mixed_salsa'].get('updates_unsure'))} | {_maj(b['mixed_salsa'].get('majorities'))} |")
    return L + ["", own_salsa_note, ""]


def unsure_table(res: dict, tk: str) -> list[str]:
    u, base = res["by_k"].get(tk, {}), res["base"]
    L = ["| model | replays | mostly unsure | updates unsure | clips' majorities |", "|---|---|---|---|---|"]
    rows = [
        (f"salsa only (k = {tk}), bachata clips", u.get("salsa_only_bachata")),
        (f"salsa only (k = {tk}), the videos", u.get("salsa_only_others")),
        (f"salsa only (k = {tk}), the test dancer's salsa clips (the cost)", u.get("salsa_only_salsa")),
        (f"salsa + bachata (k = {tk}), the videos", u.get("pack_others")),
        (f"model's own styles + bachata (k = {tk}), the videos", u.get("mixed_others")),
        ("the model alone, the videos", base.get("others")),
        ("the model alone, bachata clips", base.get("bachata")),
    ]
    for name, s in rows:
        if s:
            L.append(f"| {name} | {s['clips']['n']} | {rate_cell(s.get('mostly_unsure'))} | "
                     f"{rate_cell(s.get('updates_unsure'))} | {_maj(s.get('majorities'))} |")
    return L + [""]


def diagnostics_table(res: dict, tk: str) -> list[str]:
    lim = res.get("limits") or {}
    diag = lim.get("diagnostics") or {}
    L: list[str] = []
    pm = _get(res, "by_k", tk, "pack_salsa", "per_group_majorities") or {}
    if pm:
        L += [f"Clip majorities per salsa test dancer at k = {tk} (all draws): " + "; ".join(
            f"{g}: {_maj(m)}" for g, m in pm.items()) + ".", ""]
    mix = lim.get("by_example_dancers") or {}
    if mix:
        L += [f"Salsa clips right at k = {tk} by the dancers the examples came from:", "",
              "| test dancer | examples from | clips right |", "|---|---|---|"]
        for g, row in mix.items():
            for m, r in row.items():
                L.append(f"| {g} | {m} | {rate_cell(r)} |")
        L.append("")
    tw = diag.get("test_windows") or {}
    if tw:
        L += [f"Where the windows fall at k = {tk}: Mahalanobis distances under the model's precision (medians over "
              f"every window of every draw; the model's distance threshold is {_f(diag.get('distance_threshold'))}, "
              f"median over folds). The taught salsa and bachata means lie {_f(_get(diag, 'means_apart', 'median'))} "
              f"apart (median; {_f(_get(diag, 'means_apart', 'min'))}-{_f(_get(diag, 'means_apart', 'max'))}); the "
              f"examples' median distance to their own mean (the pack's `spread`): salsa "
              f"{_f(_get(diag, 'example_spread', 'salsa'))}, bachata {_f(_get(diag, 'example_spread', 'bachata'))}.",
              "",
              "| windows of | windows | to the taught salsa mean | to the taught bachata mean | beyond the threshold "
              "(unsure) | nearer the wrong taught style | to the model's own salsa mean |",
              "|---|---|---|---|---|---|---|"]
        for g, r in tw.items():
            if g.startswith("out-of-set"):
                ds, db, wrong = r.get("median_to_salsa_mean"), r.get("median_to_bachata_mean"), None
            elif g.startswith("bachata"):
                ds, db, wrong = r.get("median_to_other_mean"), r.get("median_to_own_mean"), r.get("nearer_other_mean")
            else:
                ds, db, wrong = r.get("median_to_own_mean"), r.get("median_to_other_mean"), r.get("nearer_other_mean")
            L.append(f"| {g} | {r['windows']} | {_f(ds)} | {_f(db)} | {_f(r.get('beyond_threshold'))} | "
                     f"{'n/a' if wrong is None else _f(wrong)} | {_f(r.get('median_to_model_salsa_mean'))} |")
        L.append("")
    allx = lim.get("all_examples") or {}
    if allx:
        L += [f"**More examples**: salsa taught from *every* clip of the other dancers (bachata from all its clips), "
              "and bachata leave-one-clip-out (taught from the other clips, salsa from every salsa clip): salsa "
              f"{rate_cell(_get(allx, 'salsa', 'clips'))}, bachata {rate_cell(_get(allx, 'bachata', 'clips'))} "
              "clips right (one deterministic pack per fold / clip).", ""]
    return L


# ------------------------------------------------------------------ the markdown


def render_markdown(result: dict) -> str:
    st, mach = result["settings"], result["machine"]
    ks = [str(k) for k in st["k"]]
    byk = result["by_k"]
    tk = str(st["target_k"])
    model = result.get("model", {})
    ref = result.get("realvideo_reference")
    fold = result.get("fold_models")
    data = result["data"]
    cmd = result.get("command", "edgerec fewshot")
    runs = f"{st['draws']} random draws of the example clips per k, seed {st['seed']}"
    where = f"{mach['words']} ({mach['platform']})"
    n_dancers = len({c["dancer"] for c in data["salsa_clips"]})
    n_b, n_s, n_o = len(data["bachata_clips"]), len(data["salsa_clips"]), len(data["out_of_set_clips"])
    oos_names = ", ".join(sorted({c["label"] for c in data["out_of_set_clips"]})) or "none"
    exposed = model.get("outlier_exposure_clips") or []
    L: list[str] = []
    L += ["# Few-shot style packs: styles taught from a few real clips", "",
          f"Generated by `{cmd}` (edgerec {result.get('edgerec_version', __version__)}, {where}, "
          f"{_f(result.get('seconds'), 0)} s, one run; {runs}). Shipped model: `{model.get('name', '?')}` "
          f"(weights {str(model.get('fingerprint', ''))[:12]}, distance threshold "
          f"{_f(model.get('distance_threshold'))}). Every number below is from this run unless it names another "
          "report.", ""]
    if st.get("quick"):
        L += ["**Quick smoke run: the fold models were trained with settings too small for their numbers to mean "
              "anything.**", ""]
    L += ["**What is measured.** A taught style is the mean embedding of its example clips' windows in a model's "
          "embedding space (`edge.classify.packs.learn_style`, as `edgerec styles add` does); recognition is "
          "`PackedStyleModel`, replayed frame by frame through the runtime (One Euro smoothing, the window cut, "
          "the still test, the probability EMA and the hysteresis) and scored as `training.realvideo` scores what "
          "`edgerec run` shows:", "",
          "- **clips right**: the decision shown most often over a clip's updates is its style (a clip whose "
          "majority is \"unsure\", or a tie, counts as wrong);",
          "- **updates right / unsure**: decided updates (every 0.5 s) showing the right style / \"unsure\"; "
          "**windows right**: the same for the raw per-window decision, before the smoothing;",
          "- **mostly unsure**: unsure on at least half of a clip's decided updates.", "",
          "**Protocol.** Taught styles only (`only_pack=True`, the user's own label set): *salsa* from k 20 s clips "
          f"of salsa dancers and *bachata* from k bachata clips, k = {', '.join(ks)}. **Salsa leaves one dancer "
          f"out**: for each of the {n_dancers} real salsa dancers the salsa examples are drawn from the *other* "
          f"dancers' clips only and the test dancer's clips are scored, so each of the {n_s} salsa clips is scored "
          f"once per draw. **Bachata is one couple** ({n_b} clips, one per move): its examples and its test clips "
          "are *different clips of the same couple*, so bachata is **not** an unseen-dancer test. Each fold of each "
          "draw draws its own examples (`numpy.random.default_rng([seed, k, draw])`), uniformly from the pool, so a "
          "draw may take all k salsa clips from one dancer.", "",
          f"**Two embeddings.** (1) The **{SHIPPED}** (what a user has), which was trained on all {n_dancers} salsa "
          f"dancers and exposed to {'all ' + str(len(exposed)) + ' ' if exposed else ''}out-of-set clips (the card's "
          "`outlier_exposure_clips`: every bachata clip and every video here), trained towards uniform "
          "probabilities: the test dancer gave no *example*, but the embedding has seen them. (2) **Fold models**"
          + (": one edge model per salsa dancer, trained as the shipped one (same data and settings) without that "
             "dancer and *without* outlier exposure, so its embedding never saw the test dancer, bachata or the "
             "videos; each fold's unsure threshold is scaled, as `edgerec realvideo` does, by the other dancers' "
             "distance ratios. That is the fair test of what a new user gets." if fold else
             " were not run (`--no-fold-models`)."), "",
          "**Intervals** (95%): the first is a percentile bootstrap resampling draws and test clips together "
          f"({st['bootstrap']} resamples): it covers which examples a user gives and which clips are tested, not "
          "dancers unlike these; **W** is Wilson's over all test-clip decisions, which treats every decision as "
          "independent (they are not: the same clips recur in every draw), so it is too narrow.", ""]

    # -- target
    rows = [(SHIPPED, result)] + ([(FOLDS, fold)] if fold else [])
    L += ["## The done-when target", "",
          "\"With 3 example clips, accuracy on styles taught this way is at least 0.9 where the test dancer gave "
          "no example.\"", "",
          f"| embedding | taught style | wanted | measured (clips right at k = {tk}) | met |",
          "|---|---|---|---|---|"]
    for name, res in rows:
        tr = target_row(result, res)
        L.append(f"| {name} | salsa, leave one dancer out | >= {tr['wanted']:.1f} | "
                 f"{clips_cell(res['by_k'][tk]['pack_salsa'])} | {_yes(tr['met'])} |")
        L.append(f"| {name} | bachata (same couple: not an unseen-dancer test) | (>= {tr['wanted']:.1f}) | "
                 f"{clips_cell(res['by_k'][tk]['pack_bachata'])} | n/a |")
    L += [""] + verdict(result) + [""]

    # -- accuracy against k
    L += [f"## Accuracy against k ({SHIPPED}, taught styles only)", "", f"![clip accuracy against k]({PLOT})", ""]
    L += accuracy_tables(result, ks, nn=True)
    L += ["The 1-NN baseline: per window the mean and standard deviation over time of each of the window's "
          "feature channels (the same windows the runtime classifies), standardised on the example windows, the "
          "nearest example window's style, majority over the clip's windows (a tie is wrong); it has no "
          "\"unsure\" and does not depend on the embedding.", ""]

    # -- base classifier
    base = result["base"]
    L += ["## The base classifier on the style both know (salsa)", "",
          "| model | salsa clips right | updates right | updates unsure |", "|---|---|---|---|",
          f"| taught salsa, {SHIPPED}, k = {tk}, leave one dancer out | {clips_cell(byk[tk]['pack_salsa'], False)} | "
          f"{rate_cell(byk[tk]['pack_salsa'].get('updates_right'))} | "
          f"{rate_cell(byk[tk]['pack_salsa'].get('updates_unsure'))} |",
          f"| {SHIPPED} alone, the same {base['salsa']['clips']['n']} clips (**trained on these dancers**: "
          f"optimistic) | {rate_cell(base['salsa']['clips'])} | {rate_cell(base['salsa'].get('updates_right'))} | "
          f"{rate_cell(base['salsa'].get('updates_unsure'))} |"]
    if fold:
        fb = fold["base"]
        L += [f"| taught salsa, {FOLDS}, k = {tk}, leave one dancer out | "
              f"{clips_cell(fold['by_k'][tk]['pack_salsa'], False)} | "
              f"{rate_cell(fold['by_k'][tk]['pack_salsa'].get('updates_right'))} | "
              f"{rate_cell(fold['by_k'][tk]['pack_salsa'].get('updates_unsure'))} |",
              f"| {FOLDS} alone (each never saw its test dancer; no outlier exposure) | "
              f"{rate_cell(fb['salsa']['clips'])} | "
              f"{rate_cell(fb['salsa'].get('updates_right'))} | {rate_cell(fb['salsa'].get('updates_unsure'))} |"]
    if ref:
        for key, what in (("edge", "edge model"), ("baseline", "logistic-regression baseline")):
            r = ref.get(key) or {}
            L.append(f"| {what}, leave one dancer out (`{ref['file']}`) | "
                     f"{rate_cell(r.get('clips_right'))} {_iv(_get(r, 'clips_right', 'ci95_dancers'))} | "
                     f"{rate_cell(r.get('windows_right'))} | {rate_cell(r.get('in_set_unsure'))} |")
        L += ["", f"The last rows come from `{ref.get('command') or 'edgerec realvideo'}` (fold models trained without "
              "the test dancer, with outlier exposure; intervals resample dancers), not from this run: the fair "
              "reference for the base classifier.", ""]
    else:
        L += ["", "`reports/realvideo/report.json` was not found: no leave-one-dancer-out reference for the base "
              "classifier.", ""]

    # -- mixed
    L += [f"## Mixed: the model's own styles plus a taught bachata ({SHIPPED})", ""]
    L += mixed_table(result, ks, "Salsa here is the shipped model's own style, learned from these very dancers: the "
                                 "salsa column says whether teaching bachata takes salsa clips away, not how well "
                                 "salsa generalises.")

    # -- unsure
    L += [f"## \"Unsure\" for a style that was not taught ({SHIPPED})", "",
          f"k = {tk}. Out-of-set clips: the {n_o} videos ({oos_names}). Packs per draw: one per salsa fold, so "
          "each bachata or out-of-set clip is replayed by every fold's pack in every draw; counts are replays.", ""]
    L += unsure_table(result, tk)

    # -- fold models
    if fold:
        L += fold_section(result, fold, ks, tk)

    # -- timing
    tm = result.get("timing") or {}
    if tm.get("runs"):
        ok = "under" if tm["median_s"] < tm["target_s"] else "**over**"
        L += ["## Teaching time", "",
              f"Seconds after pose to learn a style from a {tm['clip_seconds']:.0f} s clip of landmarks "
              f"(`{tm['clip']}`, {tm['frames']} frames, {tm['windows']} windows): the runtime's window chain with "
              "the recording model (`edge.runtime.teach.window_embeddings`), `learn_style`, the closest-styles "
              "list and the atomic pack write, as `edge.runtime.teach.teach` counts it, with the model loaded. "
              f"**Median {tm['median_s']:.2f} s** (range {tm['min_s']:.2f}-{tm['max_s']:.2f} s, {tm['runs']} runs, "
              f"{mach['words']}, the machine shared with other work): {ok} the issue's {tm['target_s']:.0f} s. "
              "Pose itself (a video or the camera) is not included.", ""]

    # -- limits
    L += ["## What limits it", ""]
    L += limits_text(result)
    L += [f"### Where the windows fall ({SHIPPED})", ""] + diagnostics_table(result, tk)
    if fold:
        L += [f"### Where the windows fall ({FOLDS})", ""] + diagnostics_table(fold, tk)

    # -- verification
    L += ["## Checked against the real runtime", "",
          "Each clip was replayed once through the runtime per model, recording every classified window; the "
          "packs' decisions are replayed from that record through the real `PackedStyleModel` and a fresh "
          "`StyleSmoother` in the runtime's order (the windows, the still test and the resets do not depend on the "
          "model's answers). To check it, draw 0 was also replayed through `edge.runtime.Runtime` itself:", ""]
    for name, res in rows:
        v = res.get("verification")
        if not v:
            continue
        same = "identical" if v["identical"] == v["replays"] else f"**{v['replays'] - v['identical']} differ**"
        L.append(f"- {name} (k = {v['k']}; folds {', '.join(v['folds'])}; both packs and the model alone on the "
                 f"test dancer): {v['replays']} replays, {same} ({v['identical']}/{v['replays']}); teaching "
                 f"embeddings of {v['teaching_clips']} example clips from `edge.runtime.teach.window_embeddings`: "
                 f"same windows in {v['teaching_windows_same_count']}, largest difference "
                 f"{v['teaching_max_abs_difference']:g}.")
    L.append("")

    # -- caveats
    gus = sum(c["dancer"] == "dancer:gustavo" for c in data["salsa_clips"])
    L += ["## Caveats", "",
          f"- **Bachata is one couple** ({n_b} clips, one per move): examples and tests are different clips of the "
          "same two people, in the same room and camera; a new couple would be harder.",
          f"- **{n_dancers} salsa dancers**, {n_s} clips of 20 s"
          + (f" (Gustavo {gus})" if gus else "") + "; no interval here covers dancers unlike them.",
          "- The fold models have no outlier exposure, unlike the shipped model, so their \"unsure\" for unknown "
          "styles is the plain calibration's. Their own salsa was learned from the other real dancers plus CMU "
          "motion capture, and the salsa *examples* are clips of those same other dancers: only the test dancer "
          "is new to a fold model. A user's examples would be new to it too.",
          "- Cha-cha, rumba, waltz and the AIST++ styles have no real-video clips to teach or test with.", ""]
    return "\n".join(L) + "\n"


def _met(tr: dict) -> str:
    text = f"**{'met' if tr['met'] else 'not met'}** ({_f(tr['rate'])} at k = {tr['k']}, "
    text += f"interval {_iv(tr['ci95_boot'])}"
    if tr["met"] and not tr["lower_bound_met"]:
        text += f", whose lower end is below {tr['wanted']:.1f}"
    return text + ")"


def verdict(result: dict) -> list[str]:
    """The target as measured, and which number to believe."""
    ship = target_row(result)
    fold = result.get("fold_models")
    tk = str(result["settings"]["target_k"])
    out = [f"As measured on the {SHIPPED}, the target is {_met(ship)}."]
    if not fold:
        out[0] += (f" It is optimistic: the {SHIPPED}'s embedding was trained on these dancers; run with fold models "
                   "for the fair number.")
        return out
    fr = target_row(result, fold)
    fb = _get(fold, "by_k", tk, "pack_bachata", "clips") or {}
    out[0] += (f" On the **{FOLDS}**, whose embedding never saw the test dancer, it is {_met(fr)}: the fair number "
               f"for a new dancer of a style the embedding knows (each fold model learned salsa from the other two "
               f"real dancers and motion capture). The {SHIPPED}'s number is optimistic: its embedding was trained on "
               "these dancers.")
    out += ["", f"**For a style the embedding has never seen**, which is what a user teaches, the only measurement "
            f"here is bachata on the {FOLDS}: {clips_cell({'clips': fb}, False)} at k = {tk}, below "
            f"{ship['wanted']:.1f}, and that is on clips of the *same* couple that gave the examples. The "
            f"{SHIPPED}'s 1.00 on bachata is not evidence: it was exposed to every bachata clip in training (see *What "
            "limits it*)."]
    return out


def fold_section(result: dict, fold: dict, ks: list[str], tk: str) -> list[str]:
    tr = fold.get("training") or {}
    cfg = tr.get("config") or {}
    L = [f"## Fair check: {FOLDS} that never saw the test dancer, bachata or the videos", "",
         f"Training: {cfg.get('per_class')} augmented windows per class, at most {cfg.get('epochs')} epochs, seed "
         f"{cfg.get('seed')}, no outlier exposure; {_f(tr.get('seconds'), 0)} s for training, recording and "
         "measuring all folds. Each fold's model knows salsa from CMU motion capture and the other real dancers.",
         "", "| fold (test dancer) | epochs | validation threshold | scale (other dancers' ratios) | threshold |",
         "|---|---|---|---|---|"]
    for f in tr.get("folds", []):
        L.append(f"| {f['dancer']} | {f['epochs']} | {_f(f['validation_threshold'])} | {_f(f['threshold_scale'])} | "
                 f"{_f(f['distance_threshold'])} |")
    L += ["", "Accuracy against k (taught styles only; the 1-NN baseline is the same as above):", ""]
    L += accuracy_tables(fold, ks, nn=False)
    L += ["Mixed: each fold model's own styles plus a taught bachata (its own salsa is now a fair leave-one-dancer-out "
          "test):", ""]
    L += mixed_table(fold, ks, "Row 0 is each fold model alone on its unseen test dancer.")
    L += [f"\"Unsure\" for a style that was not taught (k = {tk}; every fold model replays every bachata and "
          "out-of-set clip):", ""]
    L += unsure_table(fold, tk)
    return L


def limits_text(result: dict) -> list[str]:
    """What the diagnostics say, in sentences built from the measured numbers."""
    st = result["settings"]
    tk = str(st["target_k"])
    fold = result.get("fold_models")
    L: list[str] = []
    ship = target_row(result)
    diag = _get(result, "limits", "diagnostics") or {}
    tw = diag.get("test_windows") or {}
    spread = diag.get("example_spread") or {}
    oos = {g: r for g, r in tw.items() if g.startswith("out-of-set")}
    if spread.get("bachata") is not None and spread.get("salsa") is not None and \
            spread["bachata"] < 0.5 * spread["salsa"]:
        near = [f"{g.split(': ')[-1]} {_f(r.get('median_to_bachata_mean'))}" for g, r in oos.items()]
        L += [f"- **The {SHIPPED} collapses what it was told is out-of-set.** Bachata's example windows lie a median "
              f"{_f(spread['bachata'])} from their own mean, salsa's {_f(spread['salsa'])}: outlier exposure trained "
              "every bachata clip and video towards one small region of the embedding. Taught bachata is that "
              f"region: it scores {_f(_get(result, 'by_k', tk, 'pack_bachata', 'clips', 'rate'))} at k = {tk} on the "
              "same couple and attracts the videos too (median distance to the taught bachata mean: "
              f"{', '.join(near) or 'n/a'}; the threshold is {_f(diag.get('distance_threshold'))}): with salsa and "
              f"bachata taught, {_pct_unsure(result, 'pack_others')} of the videos' updates are unsure. A style the "
              "model was never exposed to does not sit in such a tight cluster (see the fold models)."]
    if fold:
        fr = target_row(result, fold)
        fd = _get(fold, "limits", "diagnostics") or {}
        fs = fd.get("example_spread") or {}
        L += [f"- **Without that exposure** ({FOLDS}) salsa at k = {tk} is {_f(fr['rate'])} (against "
              f"{_f(ship['rate'])} on the {SHIPPED}) and bachata "
              f"{_f(_get(fold, 'by_k', tk, 'pack_bachata', 'clips', 'rate'))}; "
              f"the examples' spread is salsa {_f(fs.get('salsa'))}, bachata {_f(fs.get('bachata'))}, and the taught "
              f"means lie {_f(_get(fd, 'means_apart', 'median'))} apart against a threshold of "
              f"{_f(fd.get('distance_threshold'))}."]
        ks = result["settings"]["k"]
        rates = [_get(fold, "by_k", str(k), "pack_bachata", "clips", "rate") for k in ks]
        curve = ", ".join(f"k = {k}: {_f(r)}" for k, r in zip(ks, rates))
        every = _get(fold, "limits", "all_examples", "bachata", "clips", "rate")
        below = all(r is not None and r < st["target"] for r in rates + [every])
        bw = _get(fd, "test_windows", "bachata clips") or {}
        L += [f"- **A style new to the embedding is the hard case.** Bachata on the {FOLDS} ({curve}; same couple) "
              + (f"stays below {st['target']:.1f} even with every other clip as examples ({_f(every)})"
                 if below else f"reaches {_f(every)} with every other clip as examples")
              + f": its windows lie a median {_f(bw.get('median_to_own_mean'))} from the taught bachata mean and "
              f"{_f(bw.get('median_to_other_mean'))} from the taught salsa one; {_f(bw.get('beyond_threshold'))} of "
              f"them are beyond the threshold (unsure) and {_f(bw.get('nearer_other_mean'))} nearer salsa. The fold "
              "models' embedding was trained to tell its own seven styles apart; it does not gather a style outside "
              f"them into a cluster of its own (the bachata examples' spread is {_f(fs.get('bachata'))}, salsa's "
              f"{_f(fs.get('salsa'))}), and more examples move the taught mean, not that geometry."]
        worst = _worst_dancer(fold, tk)
        if worst:
            L += [f"- The weakest salsa test dancer on the {FOLDS} at k = {tk}: {worst}; "
                  f"{_f(_get(fd, 'test_windows', worst.split(',')[0], 'nearer_other_mean'))} of that dancer's "
                  "windows are nearer the taught bachata mean than the taught salsa one."]
    worst = _worst_dancer(result, tk)
    if worst:
        L += [f"- The weakest salsa test dancer on the {SHIPPED} at k = {tk}: {worst}."]
    L += ["- **Data**: three salsa dancers and one bachata couple. Only salsa is ever tested on a dancer who gave "
          "no example (bachata is always the same couple), and with three dancers no interval covers a dancer "
          "unlike them.", ""]
    return L


def _pct_unsure(result: dict, key: str) -> str:
    r = _get(result, "by_k", str(result["settings"]["target_k"]), key, "updates_unsure")
    return _f(r.get("rate")) if r else "n/a"


def _worst_dancer(res: dict, tk: str) -> Optional[str]:
    pg = _get(res, "by_k", tk, "pack_salsa", "per_group") or {}
    pm = _get(res, "by_k", tk, "pack_salsa", "per_group_majorities") or {}
    rows = [(g, r) for g, r in pg.items() if r.get("rate") is not None]
    if not rows:
        return None
    g, r = min(rows, key=lambda gr: gr[1]["rate"])
    return f"{g}, {rate_cell(r)} clips right (majorities: {_maj(pm.get(g))})"


# ------------------------------------------------------------------ the plot


def render_plot(result: dict) -> Optional[bytes]:
    """PNG bytes of clip accuracy against k (None without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        return None
    st = result["settings"]
    ks = [int(k) for k in st["k"]]
    fold = result.get("fold_models")
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    lines = [(result, "pack_salsa", f"taught salsa, leave one dancer out ({SHIPPED})", "#4C72B0", "-", "o"),
             (result, "pack_bachata", f"taught bachata, same couple ({SHIPPED})", "#DD8452", "-", "s")]
    if fold:
        lines += [(fold, "pack_salsa", f"taught salsa, leave one dancer out ({FOLDS})", "#4C72B0", "-.", "P"),
                  (fold, "pack_bachata", f"taught bachata, same couple ({FOLDS})", "#DD8452", "-.", "X")]
    lines += [(result, "nn_salsa", "1-NN baseline, salsa", "#4C72B0", "--", "^"),
              (result, "nn_bachata", "1-NN baseline, bachata", "#DD8452", "--", "v")]
    for j, (res, key, name, color, style, marker) in enumerate(lines):
        ys, lo, hi = [], [], []
        for k in ks:
            c = res["by_k"][str(k)][key]["clips"]
            ci = c.get("ci95_boot") or [None, None]
            ys.append(c["rate"])
            lo.append(c["rate"] - ci[0] if ci[0] is not None else 0.0)
            hi.append(ci[1] - c["rate"] if ci[1] is not None else 0.0)
        xs = [k + (j - (len(lines) - 1) / 2) * 0.05 for k in ks]
        ax.errorbar(xs, ys, yerr=[lo, hi], color=color, linestyle=style, marker=marker, capsize=3, label=name)
    base = _get(result, "base", "salsa", "clips", "rate")
    if base is not None:
        ax.axhline(base, color="#55A868", linestyle=":", linewidth=2.5,
                   label=f"{SHIPPED} alone, salsa, trained on these dancers ({base:.2f})")
    fbase = _get(fold, "base", "salsa", "clips", "rate") if fold else None
    if fbase is not None:
        ax.axhline(fbase, color="#C44E52", linestyle=(0, (1, 3)), linewidth=1.5,
                   label=f"{FOLDS} alone, salsa, unseen dancer ({fbase:.2f})")
    ref = _get(result, "realvideo_reference", "edge", "clips_right", "rate")
    if ref is not None:
        ax.axhline(ref, color="#8172B3", linestyle=(0, (5, 2, 1, 2)),
                   label=f"edge model alone, salsa, unseen dancer, realvideo report ({ref:.2f})")
    ax.axhline(st["target"], color="#999999", linewidth=0.8)
    ax.set_xticks(ks)
    ax.set_xlabel("example clips per taught style (k)")
    ax.set_ylabel("clips right (majority of updates)")
    ax.set_ylim(0, 1.06)
    ax.set_title(f"{st['draws']} draws per k, seed {st['seed']}; bars: 95% bootstrap over draws and clips; "
                 f"grey: target {st['target']}", fontsize=9)
    ax.legend(fontsize=6.5, loc="lower left", framealpha=0.9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return buf.getvalue()


def write(result: dict, out_dir: str | Path) -> Path:
    """Write report.json, the plot and report.md into ``out_dir`` (each atomically); the path of report.md."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result.setdefault("edgerec_version", __version__)
    md = render_markdown(result)  # before anything is written: a result that cannot render writes nothing
    png = render_plot(result)
    atomic_write_text(out_dir / "report.json", jsonio.dumps(result, indent=1) + "\n")
    if png is not None:
        atomic_write_bytes(out_dir / PLOT, png)
    path = out_dir / "report.md"
    atomic_write_text(path, md)
    return path

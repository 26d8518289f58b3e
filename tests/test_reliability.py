"""The scripted hostile cases of ``edgerec bench reliability``: every one must end in a
result or a one-line error, never a traceback, a bug report, a hang or a crash, and every
interrupted write must leave a valid artefact or nothing."""

from __future__ import annotations

import signal

import pytest

from benchmarks.reliability import OUTCOMES, cases, classify, render, run_cases, summarise


def test_outcomes_are_classified_as_the_user_sees_them():
    assert classify(0, "fine", False, None) == "ok"
    assert classify(1, "some output\nError: x.npy: not landmarks; fix", False, None) == "clean error"
    assert classify(1, "Traceback (most recent call last):\n  ...\nValueError: x", False, None) == "traceback"
    assert classify(70, "Error: internal error: TypeError", False, None) == "bug"
    assert classify(None, "", True, None) == "hang"
    assert classify(-11, "", False, None) == "crash"
    assert classify(-9, "", False, signal.SIGKILL) == "clean error"  # killed as asked
    assert classify(143, "summary", False, signal.SIGTERM) == "clean error"
    assert classify(1, "no error line", False, None) == "traceback"


@pytest.mark.slow
def test_every_scripted_case_ends_cleanly(data_root):
    results = run_cases(cases(data_root), data_root)
    table = summarise(results)
    bad = [(r.case.kind, r.case.name, r.outcome, r.message) for r in results
           if r.outcome in ("bug", "traceback", "hang", "crash")]
    assert not bad, bad
    broken = [r.case.name for r in results if r.artefact_ok is False]
    assert not broken, f"half-written artefacts at the final path: {broken}"
    saved = [r for r in results if r.case.kind == "signals" and "--save" in r.case.name and "KILL" not in r.case.name]
    assert saved and all(r.artefact_ok for r in saved), "a stopped --save keeps a playable video"
    assert set(table) >= {"landmark input", "model file", "catalogue", "numbers", "writes", "signals"}
    text = render({"command": "pytest", "machine": "test", "commit": "test", "seconds": 0.0, "summary": table,
                   "cases": [r.to_json() for r in results], "suites": None, "soak": None})
    assert "| **all** |" in text and all(o in text for o in OUTCOMES)

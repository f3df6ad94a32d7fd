#!/usr/bin/env python3
"""Print the comparison table for compare.sh.

Reads the per-run measurements written by timeit_proc.py (JSON lines), the
Brian2 results (through cuba_brian2.report) and Ember's summary.json
(populations.{exc,inh}.spikes and rate_hz), and prints per simulator the
median / min / max whole-process wall time, the median CPU time, spike counts
and mean rates, then the ratio brian2_median / ember_median.

Only the standard library and numpy are needed (no Brian2 import).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cuba_brian2  # noqa: E402


def load_times(path: str) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {}
    if path and os.path.isfile(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rec = json.loads(line)
                    runs.setdefault(rec["label"], []).append(rec)
    return runs


def ember_spikes(summary_path: str) -> tuple[dict | None, str | None]:
    """Spike counts and rates from Ember's summary.json, or (None, why)."""
    if not summary_path or not os.path.isfile(summary_path):
        return None, f"no {summary_path}"
    try:
        with open(summary_path) as f:
            s = json.load(f)
        pops = s["populations"]
        out = {"spikes": {}, "rate_hz": {}}
        neuron_seconds = 0.0
        known = True
        for name in ("exc", "inh"):
            p = pops[name]
            out["spikes"][name] = int(p["spikes"])
            out["rate_hz"][name] = float(p["rate_hz"])
            # n * T for this population, for the pooled mean rate (SCENARIO.md:
            # summary.json has populations.<name>.size and duration in ms).
            if isinstance(p.get("size"), int) and isinstance(s.get("duration"), (int, float)):
                neuron_seconds += p["size"] * s.get("batch_size", 1) * s["duration"] / 1000.0
            elif p["rate_hz"]:
                neuron_seconds += p["spikes"] / p["rate_hz"]
            else:
                known = False
        total = out["spikes"]["exc"] + out["spikes"]["inh"]
        out["spikes"]["total"] = total
        out["rate_hz"]["total"] = total / neuron_seconds if known and neuron_seconds else None
        return out, None
    except (KeyError, TypeError, ValueError) as e:
        return None, f"cannot read {summary_path}: {type(e).__name__}: {e}"


def fmt_rate(x) -> str:
    return "?" if x is None else f"{x:.2f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--times", required=True, help="JSON-lines file from timeit_proc.py")
    ap.add_argument("--brian2-dir", required=True)
    ap.add_argument("--ember-summary", default=None)
    ap.add_argument("--ember-note", default=None, help="why Ember was not measured, if it was not")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args(argv)

    runs = load_times(args.times)
    rows = []
    spikes = {}
    notes = []

    try:
        b = cuba_brian2.report(args.brian2_dir)
        spikes["brian2"] = b
    except (OSError, ValueError, SystemExit) as e:
        b = None
        notes.append(f"brian2: cannot read results: {e}")

    if args.ember_note:
        notes.append(f"ember: {args.ember_note}")
    elif "ember" in runs:
        e, why = ember_spikes(args.ember_summary)
        if e is not None:
            spikes["ember"] = e
        else:
            notes.append(f"ember: {why}")

    n = b["n"] if b else "?"
    dur = b["duration_s"] if b else "?"
    title = f"CUBA benchmark, N={n}, {dur} s simulated, dt = 0.1 ms — whole-process wall time"
    if args.rounds:
        title += f", {args.rounds} interleaved rounds"
    print()
    print(title)
    print("=" * len(title))
    hdr = (
        f"{'simulator':<10}{'runs':>5}{'median s':>10}{'min s':>9}{'max s':>9}{'cpu med s':>11}"
        f"{'spikes exc':>12}{'inh':>8}{'total':>9}{'rate exc':>10}{'inh':>7}{'mean Hz':>9}"
    )
    print(hdr)
    print("-" * len(hdr))
    medians = {}
    busy = False
    for label in ("brian2", "ember"):
        rs = runs.get(label, [])
        sp = spikes.get(label)
        if rs:
            walls = [r["wall_s"] for r in rs]
            cpus = [r["cpu_s"] for r in rs]
            med = statistics.median(walls)
            medians[label] = med
            # Brian2 is single-threaded and does little I/O, so its wall time
            # should be close to its CPU time; a large gap means it waited
            # for the CPU: something else was running.
            if label == "brian2" and med > 1.3 * statistics.median(cpus):
                busy = True
            timing = f"{len(rs):>5}{med:>10.4f}{min(walls):>9.4f}{max(walls):>9.4f}{statistics.median(cpus):>11.4f}"
        else:
            timing = f"{0:>5}{'-':>10}{'-':>9}{'-':>9}{'-':>11}"
        if sp:
            s, r = sp["spikes"], sp["rate_hz"]
            counts = (
                f"{s['exc']:>12}{s['inh']:>8}{s['total']:>9}"
                f"{fmt_rate(r['exc']):>10}{fmt_rate(r['inh']):>7}{fmt_rate(r['total']):>9}"
            )
        else:
            counts = f"{'-':>12}{'-':>8}{'-':>9}{'-':>10}{'-':>7}{'-':>9}"
        print(f"{label:<10}{timing}{counts}")
    print("-" * len(hdr))
    if "brian2" in medians and "ember" in medians and medians["ember"] > 0:
        ratio = medians["brian2"] / medians["ember"]
        print(f"Ember speed-up (brian2 median / ember median): {ratio:.2f}x")
    else:
        print("Ember speed-up: n/a (Ember was not measured)")
    if b and b.get("internal_loop_cpu_s") is not None:
        print(
            f"Brian2 internal simulation-loop time (results/last_run_info.txt, CPU clock, last run): "
            f"{b['internal_loop_cpu_s']:.4f} s"
        )
    if b:
        print(f"Brian2 seed: {b['seed']} (float64, single thread)")
    if busy:
        notes.append(
            "Brian2's median wall time is well above its CPU time although it runs on one "
            "thread: the machine was busy with other work, these timings are not trustworthy"
        )
    for note in notes:
        print(f"NOTE {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

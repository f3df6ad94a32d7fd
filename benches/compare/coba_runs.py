#!/usr/bin/env python3
"""Brian2 COBA reference runs: several seeds, both initial states.

For every (initial state, seed) this builds the cpp_standalone project of
``coba_brian2.py`` once (into ``WORK/brian2_coba_N<n>_<init>_seed<seed>``;
rebuilt only when coba_brian2.py changes), runs it ``--warmup`` times
untimed and ``--rounds`` times timed (whole process, ``timeit_proc.py``),
and prints spike counts, mean rates (exc, inh, pooled), whether the network
is still active in the last 100 ms, and the whole-process wall / CPU time.
A seed is baked into each binary, so the runs of one seed give identical
spikes; the seeds give the spread.

Run with the Brian2 venv's interpreter (compare.sh --model coba does):

    target/compare-venv/bin/python benches/compare/coba_runs.py \
        --work target/compare [--n 4000] [--seeds 12345,1,2,3,4] \
        [--inits zero,brian,brian-v,kick] [--rounds 3] [--warmup 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import coba_brian2  # noqa: E402
import timeit_proc  # noqa: E402


def build_dir(work: str, n: int, init: str, seed: str) -> str:
    d = os.path.join(work, f"brian2_coba_N{n}_{init}_seed{seed}")
    manifest = os.path.join(d, coba_brian2.MANIFEST)
    script = os.path.join(HERE, "coba_brian2.py")
    if (
        os.access(os.path.join(d, "main"), os.X_OK)
        and os.path.isfile(manifest)
        and os.path.getmtime(manifest) >= os.path.getmtime(script)
    ):
        print(f"==> Brian2 COBA project up to date: {d}", flush=True)
        return d
    print(f"==> building Brian2 COBA (N={n}, init={init}, seed={seed}) in {d}", flush=True)
    subprocess.run(["rm", "-rf", d], check=True)
    cmd = [sys.executable, script, "--build", d, "--n", str(n), "--seed", seed]
    if init == "kick":
        cmd.append("--kick")
    elif init != "zero":
        cmd.append(f"--{init}-init")
    subprocess.run(cmd, check=True)
    return d


def stats(xs):
    return statistics.mean(xs), min(xs), max(xs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="directory for projects and measurements (target/compare)")
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--seeds", default="12345,1,2,3,4", help="comma-separated Brian2 seeds")
    ap.add_argument("--inits", default="zero,brian", help="comma-separated: zero, brian, brian-v, kick")
    ap.add_argument("--rounds", type=int, default=3, help="timed runs per (init, seed)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs per (init, seed)")
    args = ap.parse_args(argv)

    seeds = [s.strip() for s in args.seeds.replace(" ", ",").split(",") if s.strip()]
    inits = [s.strip() for s in args.inits.split(",") if s.strip()]
    for init in inits:
        if init not in coba_brian2.INITS:
            ap.error(f"unknown init '{init}' (one of {', '.join(coba_brian2.INITS)})")
    os.makedirs(args.work, exist_ok=True)
    times_path = os.path.join(args.work, f"coba_times_N{args.n}.jsonl")
    log = os.path.join(args.work, "brian2_coba_stdout.txt")
    open(times_path, "w").close()

    dirs = {(init, seed): build_dir(args.work, args.n, init, seed) for init in inits for seed in seeds}

    print(f"==> running: {args.warmup} untimed + {args.rounds} timed run(s) per (init, seed)", flush=True)
    rows = []
    for (init, seed), d in dirs.items():
        label = f"{init}/{seed}"
        for _ in range(args.warmup):
            with open(os.devnull, "w") as devnull:
                old, sys.stdout = sys.stdout, devnull
                try:
                    timeit_proc.main(["--label", label, "--cwd", d, "--log", log, "--", "./main"])
                finally:
                    sys.stdout = old
        for _ in range(args.rounds):
            timeit_proc.main(["--label", label, "--cwd", d, "--log", log, "--record", times_path, "--", "./main"])
        recs = []
        with open(times_path) as f:
            for line in f:
                rec = json.loads(line)
                if rec["label"] == label:
                    recs.append(rec)
        r = coba_brian2.report(d)
        rows.append((init, seed, r, recs))

    method = rows[0][2].get("method") if rows else "?"
    dur = rows[0][2]["duration_s"] if rows else "?"
    title = (
        f"Brian2 cpp_standalone COBA, N={args.n}, {dur} s simulated, dt = 0.1 ms, "
        f"method={method}, float64, 1 thread — whole-process times"
    )
    print()
    print(title)
    print("=" * len(title))
    hdr = (
        f"{'init':<8}{'seed':>7}{'spikes exc':>12}{'inh':>8}{'total':>8}{'rate exc':>10}{'inh':>7}{'mean Hz':>9}"
        f"{'last spk s':>11}{'end':>5}{'runs':>5}{'wall med':>10}{'min':>8}{'max':>8}{'cpu med':>9}{'loop s':>8}"
    )
    print(hdr)
    print("-" * len(hdr))
    for init, seed, r, recs in rows:
        s, rt = r["spikes"], r["rate_hz"]
        last = "-" if r["last_spike_s"] is None else f"{r['last_spike_s']:.4f}"
        if recs:
            walls = [x["wall_s"] for x in recs]
            cpus = [x["cpu_s"] for x in recs]
            tm = (
                f"{len(recs):>5}{statistics.median(walls):>10.4f}{min(walls):>8.4f}{max(walls):>8.4f}"
                f"{statistics.median(cpus):>9.4f}"
            )
        else:
            tm = f"{0:>5}{'-':>10}{'-':>8}{'-':>8}{'-':>9}"
        loop = "-" if r["internal_loop_cpu_s"] is None else f"{r['internal_loop_cpu_s']:.4f}"
        print(
            f"{init:<8}{seed:>7}{s['exc']:>12}{s['inh']:>8}{s['total']:>8}"
            f"{rt['exc']:>10.2f}{rt['inh']:>7.2f}{rt['total']:>9.2f}"
            f"{last:>11}{'yes' if r['active_at_end'] else 'NO':>5}{tm}{loop:>8}"
        )
    print("-" * len(hdr))
    for init in inits:
        sel = [(r, recs) for i, _, r, recs in rows if i == init]
        if not sel:
            continue
        me, lo, hi = stats([r["rate_hz"]["total"] for r, _ in sel])
        ee = stats([r["rate_hz"]["exc"] for r, _ in sel])
        ii = stats([r["rate_hz"]["inh"] for r, _ in sel])
        walls = [x["wall_s"] for _, recs in sel for x in recs]
        active = sum(1 for r, _ in sel if r["active_at_end"])
        wall = f"{statistics.median(walls):.4f} s (range {min(walls):.4f}-{max(walls):.4f})" if walls else "-"
        print(
            f"{init:<8} over {len(sel)} seed(s): mean rate {me:.2f} Hz (range {lo:.2f}-{hi:.2f}); "
            f"exc {ee[0]:.2f} ({ee[1]:.2f}-{ee[2]:.2f}), inh {ii[0]:.2f} ({ii[1]:.2f}-{ii[2]:.2f}); "
            f"active in the last 100 ms: {active}/{len(sel)}; whole-process wall median {wall}"
        )
    print("spikes per 100 ms bin (activity over the second):")
    for init, seed, r, _ in rows:
        print(f"  {init:<8}{seed:>7}: {r['spikes_per_bin']}")
    print(f"raw timings: {times_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Izhikevich (2003) network in Brian2's cpp_standalone mode, from Ember's scenario file.

The peer reference for ``scenarios/izhikevich2003.toml`` ("Simple model of spiking
neurons", IEEE TNN 14:1569): 800 excitatory + 200 inhibitory neurons of the classic
model, all-to-all, driven by thalamic noise.  Everything that varies per neuron or per
population is read from the scenario file (Python 3.11's ``tomllib``), so the two
simulators run the same network:

* ``v' = 0.04v² + 5v + 140 − u + I``, ``u' = a(bv − u)`` (v in mV, t in ms), spike
  when ``v ≥ 30`` (the scenario's ``thresh_v``, default 30), then ``v ← c``,
  ``u ← u + d``; ``a``, ``b``, ``c``, ``d`` of each population (a number or one value
  per neuron) from ``[[population]] params``; ``v0 = −65``, ``u0 = b·v0`` (Ember's
  defaults for ``izhikevich_abcd``);
* Δt from ``[simulation] step_time`` (0.5 ms), duration from ``duration`` (1 s);
* thalamic input ``I = mean + std·z``, z ~ N(0, 1) drawn anew for every neuron every
  ``interval`` ms (1 ms) and held in between, ``std`` per population from the
  ``kind = "noise"`` stimuli (5 exc, 2 inh) — a ``run_regularly`` at ``dt = interval``
  in the ``start`` slot;
* one ``Synapses`` object, all-to-all including autapses (``connect()``), weight of
  each (pre, post) population pair uniform in the projection's ``[lo, hi)``
  (U[0, 0.5) from exc, U[−1, 0) from inh), ``on_pre: v += w·Q`` with Q the
  ``delta_current`` ``spike_charge`` (1 pC).

Step order, matched to Ember's step (checked on a two-neuron network in both
simulators: a spike in step k moves the target's v in step k + 2, in time for that
step's threshold test):

1. ``start``: a new thalamic draw when a 1 ms interval begins;
2. ``groups``: forward Euler for v with the old u: ``v += Δt·(0.04v² + 5v + 140 − u + I)``
   (Ember: the ``qif`` step of ``izhikevich_abcd`` with τ_m = 1 ms, R = 1);
3. ``before_thresholds``: synaptic delivery ``v += w·Q``.  Ember's ``delta_current``
   injects ``I = w·Q/Δt`` for one step, i.e. ``Δt·w·Q/Δt = w·Q`` mV added to that
   step's Euler update, from spikes of the previous step plus the projection's
   ``delay`` (0.5 ms = 1 step): a spike in step k acts in step k + 2, 1 ms later.
   Brian2's pathway is moved from its default ``synapses`` slot (after the threshold)
   to ``before_thresholds``, where it pushes the *previous* step's spikes; with the
   same 0.5 ms delay it delivers in step k + 2 before the threshold test, as Ember;
4. ``thresholds``: ``v ≥ 30``;
5. ``before_resets``: ``u += Δt·a·(b·v⁺ − u)`` with v⁺ the voltage after the reset
   (c for a spiking neuron) — Ember updates u after the voltage step and its reset;
6. ``resets``: ``v ← c``, ``u ← u + d``.

Remaining differences: Brian2 computes in float64, Ember in float32; the random draws
(weights, thalamic noise) differ; the MATLAB original integrates v in two 0.5 ms
substeps but u once per ms with the unreset v (neither simulator does that).  Spike
counts are therefore similar (rates ≈ 8 Hz), not identical.

Modes (as ``cuba_brian2.py``)
-----------------------------
``--build DIR [--scenario FILE] [--seed S]``
    generate and compile the standalone project (binary ``DIR/main``, run with
    ``cwd=DIR``, results in ``DIR/results/``); writes ``DIR/ember_compare_manifest.json``.
``--report DIR [--json]``
    spike counts, rates and Brian2's own loop time (``results/last_run_info.txt``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tomllib

MANIFEST = "ember_compare_manifest.json"
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCENARIO = os.path.normpath(os.path.join(HERE, "..", "..", "scenarios", "izhikevich2003.toml"))


def per_neuron(value, n: int, what: str) -> list[float]:
    """A scenario parameter (number or list of n numbers) as n floats."""
    if isinstance(value, (int, float)):
        return [float(value)] * n
    if isinstance(value, list) and len(value) == n:
        return [float(x) for x in value]
    raise SystemExit(f"{what}: expected a number or a list of {n} numbers, got {type(value).__name__}")


def read_scenario(path: str) -> dict:
    """The network of an Izhikevich-2003-style scenario, as plain lists."""
    with open(path, "rb") as f:
        sc = tomllib.load(f)
    sim = sc["simulation"]
    pops = sc["population"]
    names = [p["name"] for p in pops]
    sizes = [int(p["size"]) for p in pops]
    offsets = {}
    start = 0
    for name, size in zip(names, sizes):
        offsets[name] = (start, start + size)
        start += size
    n = start
    a, b, c, d = [], [], [], []
    thresh = None
    for p in pops:
        if p["model"] != "izhikevich_abcd":
            raise SystemExit(f"population {p['name']}: model {p['model']} (expected izhikevich_abcd)")
        if "init" in p:
            raise SystemExit(f"population {p['name']}: explicit init not supported (v0 = -65, u0 = b v0)")
        prm = p["params"]
        for key, out in (("a", a), ("b", b), ("c", c), ("d", d)):
            out.extend(per_neuron(prm[key], p["size"], f"{p['name']}.params.{key}"))
        t = float(prm.get("thresh_v", 30.0))
        if thresh is not None and t != thresh:
            raise SystemExit("different thresh_v per population is not supported")
        thresh = t
    projections = []
    for pr in sc.get("projection", []):
        conn = pr["connectivity"]
        if not (conn.get("all_to_all") and conn.get("autapses", False)):
            raise SystemExit(f"projection {pr['pre']}->{pr['post']}: only all_to_all with autapses is supported")
        syn = pr["synapse"]
        if syn["model"] != "delta_current":
            raise SystemExit(f"projection {pr['pre']}->{pr['post']}: synapse {syn['model']} (expected delta_current)")
        w = pr["weight"]
        if isinstance(w, dict) and "uniform" in w:
            lo, hi = (float(x) for x in w["uniform"])
        elif isinstance(w, (int, float)):
            lo = hi = float(w)
        else:
            raise SystemExit(f"projection {pr['pre']}->{pr['post']}: weight must be a number or uniform")
        projections.append(
            {
                "pre": offsets[pr["pre"]],
                "post": offsets[pr["post"]],
                "lo": lo,
                "hi": hi,
                "charge": float(syn["spike_charge"]),
                "delay": float(pr.get("delay", 0.0)),
            }
        )
    delays = {p["delay"] for p in projections}
    charges = {p["charge"] for p in projections}
    if len(delays) != 1 or len(charges) != 1:
        raise SystemExit("one delay and one spike_charge for every projection are supported")
    noise = [(0.0, 0.0)] * n
    interval = None
    for st in sc.get("stimulus", []):
        if st["kind"] != "noise" or "neurons" in st or "start" in st or "stop" in st:
            raise SystemExit("only whole-population noise stimuli over the whole run are supported")
        lo, hi = offsets[st["target"]]
        for j in range(lo, hi):
            noise[j] = (float(st.get("mean", 0.0)), float(st["std"]))
        iv = float(st.get("interval", sim["step_time"]))
        if interval is not None and iv != interval:
            raise SystemExit("one noise interval for every stimulus is supported")
        interval = iv
    return {
        "dt_ms": float(sim["step_time"]),
        "duration_ms": float(sim["duration"]),
        "names": names,
        "offsets": offsets,
        "n": n,
        "a": a,
        "b": b,
        "c": c,
        "d": d,
        "thresh_v": thresh,
        "projections": projections,
        "delay_ms": delays.pop(),
        "charge_pc": charges.pop(),
        "noise": noise,
        "noise_interval_ms": interval,
    }


def build(directory: str, scenario: str, seed: int | None) -> None:
    import brian2 as b2
    import numpy as np
    from brian2 import ms

    net_spec = read_scenario(scenario)
    directory = os.path.abspath(directory)
    b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0  # single-threaded (default)
    if seed is not None:
        b2.seed(seed)

    n = net_spec["n"]
    dt = net_spec["dt_ms"]
    b2.defaultclock.dt = dt * ms
    eqs = """
    dv/dt = (0.04*v**2 + 5*v + 140 - u + I)/ms : 1
    u : 1
    I : 1
    a : 1 (constant)
    b : 1 (constant)
    c : 1 (constant)
    d : 1 (constant)
    noise_mean : 1 (constant)
    noise_std : 1 (constant)
    """
    vt = net_spec["thresh_v"]
    G = b2.NeuronGroup(
        n,
        eqs,
        threshold=f"v >= {vt!r}",
        reset="v = c; u += d",
        method="euler",
        name="izh",
    )
    G.a = np.array(net_spec["a"])
    G.b = np.array(net_spec["b"])
    G.c = np.array(net_spec["c"])
    G.d = np.array(net_spec["d"])
    G.noise_mean = np.array([m for m, _ in net_spec["noise"]])
    G.noise_std = np.array([s for _, s in net_spec["noise"]])
    G.v = -65.0
    G.u = "b * v"
    G.I = 0.0
    # Thalamic input: a new draw at the start of every interval, held in between.
    if net_spec["noise_interval_ms"] is not None:
        G.run_regularly(
            "I = noise_mean + noise_std * randn()",
            dt=net_spec["noise_interval_ms"] * ms,
            when="start",
            name="thalamic",
        )
    # u after the voltage step and its reset (v+ = c where v >= threshold), before d is added.
    G.run_regularly(
        f"u += {dt!r} * a * (b * (v + (c - v) * int(v >= {vt!r})) - u)",
        when="before_resets",
        name="u_update",
    )

    S = b2.Synapses(
        G,
        G,
        "w : 1",
        on_pre=f"v += w * {net_spec['charge_pc']!r}",
        delay=net_spec["delay_ms"] * ms,
        name="syn",
    )
    S.connect()  # all-to-all, autapses included
    for p in net_spec["projections"]:
        (i0, i1), (j0, j1) = p["pre"], p["post"]
        cond = f"i >= {i0} and i < {i1} and j >= {j0} and j < {j1}"
        S.w[cond] = f"{p['lo']!r} + {p['hi'] - p['lo']!r} * rand()"
    # Deliver the previous step's spikes before this step's threshold (see the docstring).
    S.pre.when = "before_thresholds"
    s_mon = b2.SpikeMonitor(G, name="spikemon")

    net = b2.Network(G, S, s_mon)
    net.run(net_spec["duration_ms"] * ms)

    t0 = time.perf_counter()
    b2.device.build(directory=directory, compile=True, run=False, with_output=False)
    build_s = time.perf_counter() - t0

    dev = b2.device
    files = {
        label: {"file": dev.get_array_filename(var), "dtype": np.dtype(var.dtype).name}
        for label, var in {
            "count": s_mon.variables["count"],
            "i": s_mon.variables["i"],
        }.items()
    }
    manifest = {
        "simulator": "brian2",
        "model": "izhikevich2003",
        "brian2_version": b2.__version__,
        "device": "cpp_standalone",
        "scenario": os.path.abspath(scenario),
        "n": n,
        "populations": {k: list(v) for k, v in net_spec["offsets"].items()},
        "synapses": n * n,
        "duration_s": net_spec["duration_ms"] / 1000.0,
        "dt_ms": dt,
        "seed": seed,
        "float_dtype": np.dtype(b2.prefs.core.default_float_dtype).name,
        "make_seconds": dev.timers["compile"]["make"],
        "codegen_and_make_seconds": build_s,
        "spikemonitor_files": files,
    }
    with open(os.path.join(directory, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=2)
    print(
        f"built Brian2 {b2.__version__} cpp_standalone Izhikevich 2003 (N={n}, "
        f"{n * n} synapses, seed={seed}) in {directory} (code generation + make: {build_s:.1f} s)"
    )


def report(directory: str) -> dict:
    import numpy as np

    directory = os.path.abspath(directory)
    with open(os.path.join(directory, MANIFEST)) as f:
        manifest = json.load(f)
    results = os.path.join(directory, "results")
    files = manifest["spikemonitor_files"]
    spec = files["count"]
    counts = np.fromfile(os.path.join(results, spec["file"]), dtype=np.dtype(spec["dtype"]))
    n, dur = manifest["n"], manifest["duration_s"]
    if counts.size != n:
        raise SystemExit(f"unexpected spike-count array size {counts.size} (expected {n})")
    spikes, rates = {}, {}
    for name, (lo, hi) in manifest["populations"].items():
        spikes[name] = int(counts[lo:hi].sum())
        rates[name] = spikes[name] / ((hi - lo) * dur)
    total = int(counts.sum())
    spikes["total"] = total
    rates["total"] = total / (n * dur)
    loop_s = completed = None
    info = os.path.join(results, "last_run_info.txt")
    if os.path.isfile(info):
        with open(info) as f:
            parts = f.read().split()
        loop_s, completed = float(parts[0]), float(parts[1])
    return {
        "simulator": "brian2",
        "model": "izhikevich2003",
        "n": n,
        "duration_s": dur,
        "seed": manifest["seed"],
        "spikes": spikes,
        "rate_hz": rates,
        "internal_loop_cpu_s": loop_s,
        "completed_fraction": completed,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--build", metavar="DIR", help="generate and compile the standalone project in DIR")
    mode.add_argument("--report", metavar="DIR", help="report spike counts from DIR/results")
    ap.add_argument("--scenario", default=DEFAULT_SCENARIO, help="Ember scenario file (default: scenarios/izhikevich2003.toml)")
    ap.add_argument("--seed", default="12345", help="Brian2 seed() baked into the binary (default 12345); 'none' for a fresh seed per run")
    ap.add_argument("--json", action="store_true", help="with --report: print JSON")
    args = ap.parse_args(argv)

    if args.build:
        seed = None if args.seed.lower() == "none" else int(args.seed)
        build(args.build, args.scenario, seed)
        return 0
    r = report(args.report)
    if args.json:
        print(json.dumps(r))
    else:
        s, rate = r["spikes"], r["rate_hz"]
        pops = " ".join(f"{k}={s[k]} ({rate[k]:.2f} Hz)" for k in s)
        print(f"brian2 Izhikevich 2003 N={r['n']} seed={r['seed']}: spikes {pops}; internal loop (CPU) = {r['internal_loop_cpu_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

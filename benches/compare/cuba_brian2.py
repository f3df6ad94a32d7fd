#!/usr/bin/env python3
"""CUBA benchmark (Brette et al. 2007, benchmark 2) in Brian2's cpp_standalone mode.

This is the peer reference that Ember's default scenario is compared against.
The network follows Brian2's own ``examples/CUBA.py``:

* N neurons (default 4000): 80 % excitatory, 20 % inhibitory, one NeuronGroup;
* ``dv/dt = (ge+gi-(v-El))/taum : volt (unless refractory)``,
  ``dge/dt = -ge/taue``, ``dgi/dt = -gi/taui``, integrated with
  ``method='exact'`` (as in the Brian2 example);
* taum = 20 ms, taue = 5 ms, taui = 10 ms, Vt = -50 mV, Vr = -60 mV,
  El = -49 mV, refractory 5 ms, dt = 0.1 ms;
* we = 60*0.27/10 mV = 1.62 mV, wi = -20*4.5/10 mV = -9 mV (voltage jumps);
* random connectivity with p = 80/N (= 0.02 at N = 4000), so each neuron
  receives ~80 synapses at every size;
* v0 = Vr + rand()*(Vt-Vr), ge = gi = 0;
* one SpikeMonitor on the whole group (records i and t, as in the example).

Brian2's default precision (float64) is kept on purpose: this is the
"out of the box" Brian2 configuration.

Modes
-----
``--build DIR``
    Generate the C++ standalone project in DIR and compile it (``make``),
    without running it.  The binary is ``DIR/main`` and must be run with
    ``cwd=DIR``; it writes its results to ``DIR/results/``.  A small manifest
    (``DIR/ember_compare_manifest.json``) records the parameters and the names
    and dtypes of the SpikeMonitor's result files so that ``--report`` does not
    have to rebuild the Brian2 model.
``--report DIR``
    Read the results of the last run of ``DIR/main`` and print spike counts,
    mean rates and Brian2's own simulation-loop time
    (``results/last_run_info.txt``).  ``--json`` prints one JSON object instead.

``--report`` only needs numpy (no Brian2 import), so it is fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

MANIFEST = "ember_compare_manifest.json"


def build(directory: str, n: int, duration_s: float, seed: int | None) -> None:
    # Brian2 is imported here only: --report must not pay for it.
    import brian2 as b2
    import numpy as np
    from brian2 import mV, ms, second

    directory = os.path.abspath(directory)
    b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0  # single-threaded (default)
    if seed is not None:
        b2.seed(seed)

    n_exc = int(round(0.8 * n))
    n_inh = n - n_exc
    p_conn = 80.0 / n

    taum = 20 * ms
    taue = 5 * ms
    taui = 10 * ms
    Vt = -50 * mV
    Vr = -60 * mV
    El = -49 * mV
    we = (60 * 0.27 / 10) * mV  # 1.62 mV
    wi = (-20 * 4.5 / 10) * mV  # -9 mV

    b2.defaultclock.dt = 0.1 * ms

    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    """
    namespace = dict(taum=taum, taue=taue, taui=taui, Vt=Vt, Vr=Vr, El=El, we=we, wi=wi)

    P = b2.NeuronGroup(
        n,
        eqs,
        threshold="v>Vt",
        reset="v = Vr",
        refractory=5 * ms,
        method="exact",
        namespace=namespace,
        name="cuba",
    )
    P.v = "Vr + rand() * (Vt - Vr)"
    P.ge = 0 * mV
    P.gi = 0 * mV

    Ce = b2.Synapses(P, P, on_pre="ge += we", namespace=namespace, name="syn_exc")
    Ci = b2.Synapses(P, P, on_pre="gi += wi", namespace=namespace, name="syn_inh")
    Ce.connect(f"i<{n_exc}", p=p_conn)
    Ci.connect(f"i>={n_exc}", p=p_conn)
    s_mon = b2.SpikeMonitor(P, name="spikemon")

    net = b2.Network(P, Ce, Ci, s_mon)
    net.run(duration_s * second, namespace=namespace)

    t0 = time.perf_counter()
    b2.device.build(directory=directory, compile=True, run=False, with_output=False)
    build_s = time.perf_counter() - t0

    dev = b2.device
    files = {}
    for label, var in {
        "count": s_mon.variables["count"],
        "i": s_mon.variables["i"],
        "t": s_mon.variables["t"],
    }.items():
        files[label] = {
            "file": dev.get_array_filename(var),
            "dtype": np.dtype(var.dtype).name,
        }
    manifest = {
        "simulator": "brian2",
        "brian2_version": b2.__version__,
        "device": "cpp_standalone",
        "n": n,
        "n_exc": n_exc,
        "n_inh": n_inh,
        "p_conn": p_conn,
        "duration_s": duration_s,
        "dt_ms": 0.1,
        "seed": seed,
        "float_dtype": np.dtype(b2.prefs.core.default_float_dtype).name,
        "compile_args": list(b2.prefs.codegen.cpp.extra_compile_args_gcc),
        "make_seconds": dev.timers["compile"]["make"],
        "codegen_and_make_seconds": build_s,
        "spikemonitor_files": files,
    }
    with open(os.path.join(directory, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=2)
    print(
        f"built Brian2 {b2.__version__} cpp_standalone CUBA (N={n}, "
        f"{duration_s} s, seed={seed}) in {directory} "
        f"(code generation + make: {build_s:.1f} s)"
    )


def report(directory: str) -> dict:
    import numpy as np

    directory = os.path.abspath(directory)
    with open(os.path.join(directory, MANIFEST)) as f:
        manifest = json.load(f)
    results = os.path.join(directory, "results")
    files = manifest["spikemonitor_files"]

    def load(label):
        spec = files[label]
        return np.fromfile(os.path.join(results, spec["file"]), dtype=np.dtype(spec["dtype"]))

    counts = load("count")
    n, n_exc, dur = manifest["n"], manifest["n_exc"], manifest["duration_s"]
    if counts.size != n:
        raise SystemExit(f"unexpected spike-count array size {counts.size} (expected {n})")
    exc = int(counts[:n_exc].sum())
    inh = int(counts[n_exc:].sum())
    total = exc + inh
    # Cross-check against the recorded spike indices (i is int32 -> 4 bytes each).
    n_recorded = load("i").size

    loop_s = completed = None
    info = os.path.join(results, "last_run_info.txt")
    if os.path.isfile(info):
        with open(info) as f:
            parts = f.read().split()
        loop_s, completed = float(parts[0]), float(parts[1])

    out = {
        "simulator": "brian2",
        "n": n,
        "duration_s": dur,
        "seed": manifest["seed"],
        "spikes": {"exc": exc, "inh": inh, "total": total},
        "recorded_spikes": int(n_recorded),
        "rate_hz": {
            "exc": exc / (n_exc * dur),
            "inh": inh / ((n - n_exc) * dur),
            "total": total / (n * dur),
        },
        # Brian2's own timer around the network loop: std::clock() (process
        # CPU time) in single-threaded builds, excludes synapse creation and
        # file I/O.
        "internal_loop_cpu_s": loop_s,
        "completed_fraction": completed,
    }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--build", metavar="DIR", help="generate and compile the standalone project in DIR")
    mode.add_argument("--report", metavar="DIR", help="report spike counts from DIR/results")
    ap.add_argument("--n", type=int, default=4000, help="number of neurons (default 4000)")
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds (default 1)")
    ap.add_argument(
        "--seed",
        default="12345",
        help="Brian2 seed() baked into the binary (default 12345); 'none' for a fresh seed per run",
    )
    ap.add_argument("--json", action="store_true", help="with --report: print JSON")
    args = ap.parse_args(argv)

    if args.build:
        seed = None if args.seed.lower() == "none" else int(args.seed)
        build(args.build, args.n, args.duration, seed)
        return 0

    r = report(args.report)
    if args.json:
        print(json.dumps(r))
    else:
        s, rate = r["spikes"], r["rate_hz"]
        print(
            f"brian2 N={r['n']} T={r['duration_s']} s seed={r['seed']}: "
            f"spikes exc={s['exc']} inh={s['inh']} total={s['total']}; "
            f"rate exc={rate['exc']:.2f} Hz inh={rate['inh']:.2f} Hz mean={rate['total']:.2f} Hz; "
            f"internal loop (CPU) = {r['internal_loop_cpu_s']} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""COBA benchmark (Brette et al. 2007, benchmark 1) in Brian2's cpp_standalone mode.

Conductance-based leaky integrate-and-fire network, the peer reference for
Ember's COBA scenario.  Same interface as ``cuba_brian2.py``:

* N neurons (default 4000): 80 % excitatory, 20 % inhibitory, one NeuronGroup;
* ``dv/dt = (gl*(El-v) + ge*(Ee-v) + gi*(Ei-v))/Cm : volt (unless refractory)``,
  ``dge/dt = -ge/taue : siemens``, ``dgi/dt = -gi/taui : siemens``;
* Cm = 200 pF, gl = 10 nS (R = 100 MOhm, taum = Cm/gl = 20 ms), El = -60 mV,
  Vt = -50 mV, Vr = -60 mV, Ee = 0 mV, Ei = -80 mV, taue = 5 ms,
  taui = 10 ms, refractory 5 ms, dt = 0.1 ms;
* on_pre ``ge += we`` (we = 6 nS) from excitatory, ``gi += wi`` (wi = 67 nS)
  from inhibitory neurons; random connectivity with p = 80/N (= 0.02 at
  N = 4000), as in cuba_brian2.py;
* integration: ``method='euler'`` by default (``--method``).  The v equation
  has ge*v and gi*v products, so Brian2's ``'exact'`` does not apply and its
  automatic choice would be forward Euler too; ``exponential_euler`` is the
  other sensible choice (v is conditionally linear);
* one SpikeMonitor on the whole group.

Initial state (two variants):

``default`` (zero conductances)
    v = Vr + rand()*(Vt-Vr), ge = gi = 0.  Note that with El = Vr = -60 mV
    and no external input no neuron can reach Vt from this state: the
    network is expected to stay silent.
``--brian-init``
    the initialisation of Brian2's ``examples/COBAHH.py`` (Brette et al. 2007
    benchmark 3, HH neurons, same synapses):
    v = El + (randn()*5 - 5) mV, ge = (randn()*1.5 + 4)*10 nS,
    gi = (randn()*12 + 20)*10 nS  (gi < 0 for ~5 % of the neurons, as there).
``--brian-v-init``
    v as with ``--brian-init`` but ge = gi = 0: v is above Vt in ~0.13 % of
    the neurons (~5 at N = 4000), which fire at once; this tells whether a
    handful of initial spikes ignites the network from zero conductances.
``--kick``
    the zero-conductance start plus the kick of Ember's scenarios/coba.toml:
    each neuron gets a constant current drawn from U(0, 0.2 nA) (R*I up to
    20 mV) during the first 20 ms, nothing afterwards.

Brian2's default precision (float64) and a single thread are kept.

Modes
-----
``--build DIR``   generate and compile the standalone project in DIR (binary
                  ``DIR/main``, run with cwd=DIR, results in ``DIR/results/``);
                  writes ``DIR/ember_compare_manifest.json``.
``--report DIR``  spike counts, rates and activity over time (spikes per
                  100 ms bin, last spike) of the last run; ``--json`` for JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cuba_brian2  # noqa: E402  (shared manifest format and --report reader)

MANIFEST = cuba_brian2.MANIFEST
BIN_S = 0.1  # activity histogram bin (s)


INITS = ("zero", "brian", "brian-v", "kick")


def build(directory: str, n: int, duration_s: float, seed: int | None, init: str, method: str) -> None:
    import brian2 as b2
    import numpy as np
    from brian2 import mV, ms, nA, nS, pF, second

    directory = os.path.abspath(directory)
    b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0  # single-threaded (default)
    if seed is not None:
        b2.seed(seed)

    n_exc = int(round(0.8 * n))
    n_inh = n - n_exc
    p_conn = 80.0 / n

    Cm = 200 * pF
    gl = 10 * nS  # taum = Cm/gl = 20 ms, R = 100 MOhm
    El = -60 * mV
    Vt = -50 * mV
    Vr = -60 * mV
    Ee = 0 * mV
    Ei = -80 * mV
    taue = 5 * ms
    taui = 10 * ms
    we = 6 * nS
    wi = 67 * nS

    b2.defaultclock.dt = 0.1 * ms

    eqs = """
    dv/dt  = (gl*(El-v) + ge*(Ee-v) + gi*(Ei-v))/Cm : volt (unless refractory)
    dge/dt = -ge/taue : siemens
    dgi/dt = -gi/taui : siemens
    """
    if init == "kick":
        eqs = eqs.replace("gi*(Ei-v))/Cm", "gi*(Ei-v) + I_kick*int(t < kick_stop))/Cm")
        eqs += "I_kick : amp (constant)\n"
    namespace = dict(
        Cm=Cm, gl=gl, El=El, Vt=Vt, Vr=Vr, Ee=Ee, Ei=Ei, taue=taue, taui=taui, we=we, wi=wi, kick_stop=20 * ms
    )

    P = b2.NeuronGroup(
        n,
        eqs,
        threshold="v>Vt",
        reset="v = Vr",
        refractory=5 * ms,
        method=method,
        namespace=namespace,
        name="coba",
    )
    if init not in INITS:
        raise SystemExit(f"unknown init {init!r}")
    if init == "brian":
        # Brian2 examples/COBAHH.py
        P.v = "El + (randn()*5 - 5)*mV"
        P.ge = "(randn()*1.5 + 4)*10*nS"
        P.gi = "(randn()*12 + 20)*10*nS"
    elif init == "kick":
        P.v = "Vr + rand()*(Vt - Vr)"
        P.ge = 0 * nS
        P.gi = 0 * nS
        P.I_kick = "rand()*0.2*nA"
    elif init == "brian-v":
        P.v = "El + (randn()*5 - 5)*mV"
        P.ge = 0 * nS
        P.gi = 0 * nS
    else:
        P.v = "Vr + rand()*(Vt - Vr)"
        P.ge = 0 * nS
        P.gi = 0 * nS

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
    for label in ("count", "i", "t"):
        var = s_mon.variables[label]
        files[label] = {"file": dev.get_array_filename(var), "dtype": np.dtype(var.dtype).name}
    manifest = {
        "simulator": "brian2",
        "model": "coba",
        "init": init,
        "method": method,
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
        f"built Brian2 {b2.__version__} cpp_standalone COBA (N={n}, {duration_s} s, seed={seed}, "
        f"init={manifest['init']}, method={method}) in {directory} "
        f"(code generation + make: {build_s:.1f} s)"
    )


def report(directory: str) -> dict:
    """cuba_brian2.report() plus the variant and the activity over time."""
    import numpy as np

    out = cuba_brian2.report(directory)
    directory = os.path.abspath(directory)
    with open(os.path.join(directory, MANIFEST)) as f:
        manifest = json.load(f)
    out["model"] = manifest.get("model", "coba")
    out["init"] = manifest.get("init")
    out["method"] = manifest.get("method")
    spec = manifest["spikemonitor_files"]["t"]
    t = np.fromfile(os.path.join(directory, "results", spec["file"]), dtype=np.dtype(spec["dtype"]))
    dur = manifest["duration_s"]
    nbins = max(1, int(round(dur / BIN_S)))
    hist, _ = np.histogram(t, bins=nbins, range=(0.0, dur))
    out["spikes_per_bin"] = [int(x) for x in hist]
    out["bin_s"] = dur / nbins
    out["last_spike_s"] = float(t.max()) if t.size else None
    # "active to the end": spikes in the last bin.
    out["active_at_end"] = bool(hist[-1] > 0)
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
    ap.add_argument(
        "--brian-init",
        action="store_true",
        help="Brian2 COBAHH-example initialisation (random v, ge, gi) instead of v ~ U(Vr,Vt), ge = gi = 0",
    )
    ap.add_argument(
        "--brian-v-init",
        action="store_true",
        help="v as with --brian-init, but ge = gi = 0",
    )
    ap.add_argument(
        "--kick",
        action="store_true",
        help="ge = gi = 0 plus a 20 ms U(0, 0.2 nA) current per neuron (Ember's scenarios/coba.toml)",
    )
    ap.add_argument("--method", default="euler", help="Brian2 integration method (default euler)")
    ap.add_argument("--json", action="store_true", help="with --report: print JSON")
    args = ap.parse_args(argv)

    if args.build:
        seed = None if args.seed.lower() == "none" else int(args.seed)
        chosen = [k for k, on in (("brian", args.brian_init), ("brian-v", args.brian_v_init), ("kick", args.kick)) if on]
        if len(chosen) > 1:
            ap.error("--brian-init, --brian-v-init and --kick are exclusive")
        init = chosen[0] if chosen else "zero"
        build(args.build, args.n, args.duration, seed, init, args.method)
        return 0

    r = report(args.report)
    if args.json:
        print(json.dumps(r))
    else:
        s, rate = r["spikes"], r["rate_hz"]
        print(
            f"brian2 COBA init={r['init']} N={r['n']} T={r['duration_s']} s seed={r['seed']}: "
            f"spikes exc={s['exc']} inh={s['inh']} total={s['total']}; "
            f"rate exc={rate['exc']:.2f} Hz inh={rate['inh']:.2f} Hz mean={rate['total']:.2f} Hz; "
            f"last spike {r['last_spike_s']} s; spikes per {r['bin_s']:g} s: {r['spikes_per_bin']}; "
            f"internal loop (CPU) = {r['internal_loop_cpu_s']} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""CUBA benchmark (Brette et al. 2007, benchmark 2) in NEST 3 (PyPI ``nest-simulator``).

The same network as ``cuba_brian2.py`` and Ember's ``scenarios/cuba.toml``, with NEST's
``iaf_psc_exp`` (exact integration of the leaky membrane with exponential currents):

* N neurons (default 4000): the first 80 % excitatory, the rest inhibitory;
* ``tau_m`` 20 ms, ``tau_syn_ex`` 5 ms, ``tau_syn_in`` 10 ms, ``V_th`` −50 mV,
  ``V_reset`` −60 mV, ``E_L`` −49 mV, ``t_ref`` 5 ms, ``C_m`` 250 pF, ``I_e`` 0,
  resolution 0.1 ms;
* weights as currents: Brian2's ``dv/dt = (ge + gi − (v − El))/taum`` has ge in mV,
  NEST's ``C_m dV/dt = −C_m (V − E_L)/tau_m + I_syn``, so ``I_syn = ge·C_m/tau_m`` and a
  jump of we = 1.62 mV in ge is a PSC amplitude of 1.62 mV · 250 pF / 20 ms = 20.25 pA
  (wi = −9 mV: −112.5 pA).  The voltage response is then the same as Brian2's
  (identical ODE; the choice of C_m cancels out);
* ``pairwise_bernoulli`` connectivity with p = 80/N from every excitatory (weight
  +20.25 pA) and every inhibitory (−112.5 pA) neuron to all N (autapses allowed, as in
  Brian2's ``connect(p=...)``); delay 0.1 ms, NEST's minimum (one step: a spike acts
  on the target's voltage one step later than in Brian2, whose delay is 0);
* ``V_m`` uniform in [V_reset, V_th] = [−60, −50] mV (``nest.random.uniform``);
* one ``spike_recorder`` (memory) on all neurons.

The script builds the network, then runs ``nest.Prepare()``, ``nest.Run(duration)``,
``nest.Cleanup()`` (what ``nest.Simulate`` does), timing each with ``time.perf_counter``,
and prints one JSON object (``--json-out FILE`` writes it there too): spike counts and
rates per population, ``build_s`` (kernel set-up, Create, Connect), ``prepare_s``,
``run_s`` (the simulation loop), ``simulate_s`` (= prepare + run + cleanup, the time
``nest.Simulate`` would take), and the NEST version.  The whole-process time is
measured outside (``timeit_proc.py``); it includes the Python start-up and ``import
nest`` (about a second).

    python cuba_nest.py [--n N] [--threads T] [--duration S] [--seed S] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def bernoulli_pairs(rng, n_src: int, n_tgt: int, p: float):
    """Every (source, target) pair independently with probability p, by geometric skipping
    over the n_src·n_tgt pairs (O(pairs kept), exact Bernoulli sampling): source-major
    indices, sorted."""
    import numpy as np

    total = n_src * n_tgt
    chunks = []
    last = -1
    while True:
        m = int(max(1024, (total - last) * p * 1.02 + 6 * ((total - last) * p) ** 0.5))
        pos = last + np.cumsum(rng.geometric(p, size=m), dtype=np.int64)
        keep = pos[pos < total]
        chunks.append(keep)
        if keep.size < pos.size:
            break
        last = int(pos[-1])
    pos = np.concatenate(chunks)
    return pos // n_tgt, pos % n_tgt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=1, help="NEST local_num_threads (default 1)")
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds (default 1)")
    ap.add_argument("--seed", type=int, default=12345, help="NEST rng_seed (default 12345)")
    ap.add_argument(
        "--connect",
        choices=("arrays", "pairwise_bernoulli"),
        default="arrays",
        help="arrays (default): Bernoulli pairs drawn with numpy, passed to nest.Connect as arrays; "
        "pairwise_bernoulli: NEST's own rule (O(N^2) trials: ~100 s at N = 64000)",
    )
    ap.add_argument("--json-out", default=None, help="also write the JSON result to this file")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    os.environ.setdefault("PYNEST_QUIET", "1")  # no banner
    import nest

    t_imported = time.perf_counter()
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus(
        {
            "resolution": 0.1,
            "local_num_threads": args.threads,
            "rng_seed": args.seed,
            "print_time": False,
        }
    )

    n = args.n
    n_exc = int(round(0.8 * n))
    p_conn = 80.0 / n
    c_m, tau_m = 250.0, 20.0  # pF, ms
    we_mv, wi_mv = 60 * 0.27 / 10, -20 * 4.5 / 10  # 1.62 mV, -9 mV (as in Brian2's CUBA.py)
    j_ex = we_mv * c_m / tau_m  # pA: 20.25
    j_in = wi_mv * c_m / tau_m  # pA: -112.5
    params = {
        "C_m": c_m,
        "tau_m": tau_m,
        "tau_syn_ex": 5.0,
        "tau_syn_in": 10.0,
        "t_ref": 5.0,
        "E_L": -49.0,
        "V_th": -50.0,
        "V_reset": -60.0,
        "I_e": 0.0,
    }
    nodes = nest.Create("iaf_psc_exp", n, params=params)
    nodes.V_m = nest.random.uniform(min=-60.0, max=-50.0)
    exc, inh = nodes[:n_exc], nodes[n_exc:]
    if args.connect == "pairwise_bernoulli":
        conn = {"rule": "pairwise_bernoulli", "p": p_conn, "allow_autapses": True}
        nest.Connect(exc, nodes, conn, {"synapse_model": "static_synapse", "weight": j_ex, "delay": 0.1})
        nest.Connect(inh, nodes, conn, {"synapse_model": "static_synapse", "weight": j_in, "delay": 0.1})
    else:
        import numpy as np

        rng = np.random.default_rng(args.seed)
        first = int(nodes[0].global_id)
        for lo, hi, weight in ((0, n_exc, j_ex), (n_exc, n, j_in)):
            src, tgt = bernoulli_pairs(rng, hi - lo, n, p_conn)
            pre = (src + (first + lo)).astype(np.uint64)
            post = (tgt + first).astype(np.uint64)
            m = pre.size
            nest.Connect(
                pre,
                post,
                conn_spec="one_to_one",
                syn_spec={
                    "synapse_model": "static_synapse",
                    "weight": np.full(m, weight),
                    "delay": np.full(m, 0.1),
                },
            )
    rec = nest.Create("spike_recorder")
    nest.Connect(nodes, rec)
    t_built = time.perf_counter()

    nest.Prepare()
    t_prepared = time.perf_counter()
    nest.Run(args.duration * 1000.0)
    t_ran = time.perf_counter()
    nest.Cleanup()
    t_done = time.perf_counter()

    import numpy as np

    senders = np.asarray(rec.get("events", "senders"))
    first = int(nodes[0].global_id)
    idx = senders - first
    spikes_exc = int(np.count_nonzero(idx < n_exc))
    spikes_inh = int(senders.size - spikes_exc)
    dur = args.duration
    out = {
        "simulator": "nest",
        "nest_version": getattr(nest, "__version__", None) or str(nest.GetKernelStatus("build_info").get("version")),
        "n": n,
        "n_exc": n_exc,
        "threads": int(nest.GetKernelStatus("local_num_threads")),
        "duration_s": dur,
        "seed": args.seed,
        "connect": args.connect,
        "synapses": int(nest.GetKernelStatus("num_connections")),
        "weights_pa": {"exc": j_ex, "inh": j_in},
        "spikes": {"exc": spikes_exc, "inh": spikes_inh, "total": spikes_exc + spikes_inh},
        "rate_hz": {
            "exc": spikes_exc / (n_exc * dur),
            "inh": spikes_inh / ((n - n_exc) * dur),
            "total": (spikes_exc + spikes_inh) / (n * dur),
        },
        "import_s": t_imported - t_start,
        "build_s": t_built - t_imported,
        "prepare_s": t_prepared - t_built,
        "run_s": t_ran - t_prepared,
        "cleanup_s": t_done - t_ran,
        "simulate_s": t_done - t_built,
    }
    text = json.dumps(out)
    print(text)
    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

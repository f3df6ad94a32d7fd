//! A heterogeneous network: per-neuron LIF parameters feeding exact readouts.
//!
//! Two LIF populations get the same 20 nA drive. In `tau_spread` each neuron's membrane
//! time constant is drawn from U[10, 40) ms with `ValueSpec::realize`; in `thresh_spread`
//! the thresholds run linearly from −58 to −46 mV. Parameters are `Param::PerElement`
//! arrays on one `Lif` component per population — no per-neuron entities, and the LIF kernel
//! chooses its per-neuron path once per population.
//!
//! The output shows why heterogeneity matters: identical input gives very different spike
//! counts, falling monotonically with τ and with the threshold. Both populations feed
//! `exact` readouts through delta-current synapses: `mirror` (one-to-one) copies
//! `tau_spread`'s spikes one step later, and `any` (all-to-all from both) spikes in step
//! k + 1 exactly when some input neuron spiked in step k — the engine delivers each step's
//! spikes in the next step's synapse phase.
//!
//! Run with `cargo run --release -p ember-examples --example heterogeneous`.

use ember_examples::heterogeneous::{HeterogeneousConfig, run_heterogeneous};

/// Line-aligned state arrays: see [`ember_engine::alloc`].
#[global_allocator]
static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = HeterogeneousConfig::default();
    let r = run_heterogeneous(&config)?;
    println!(
        "{} ms, {} nA drive into two populations of {} LIF neurons",
        config.duration_ms, config.drive_na, config.neurons
    );

    println!("\ntau_spread (sorted by membrane time constant):");
    let mut order: Vec<usize> = (0..r.tc_membrane_ms.len()).collect();
    order.sort_by(|&a, &b| r.tc_membrane_ms[a].total_cmp(&r.tc_membrane_ms[b]));
    for i in order {
        let n = r.tau_counts[i];
        println!(
            "  τ = {:5.2} ms  {n:>3} spikes  {}",
            r.tc_membrane_ms[i],
            "|".repeat(n as usize)
        );
    }

    println!("\nthresh_spread:");
    for (th, &n) in r.thresh_v_mv.iter().zip(&r.thresh_counts) {
        println!(
            "  θ = {th:6.2} mV  {n:>3} spikes  {}",
            "|".repeat(n as usize)
        );
    }

    let inputs = r.tau_spikes.len() + r.thresh_spikes.len();
    let first_input = r
        .tau_spikes
        .iter()
        .chain(&r.thresh_spikes)
        .map(|e| e.step)
        .min();
    println!(
        "\nreadouts: `mirror` spiked {} times for {} tau_spread spikes; \
         `any` spiked in {} steps for {inputs} input spikes",
        r.mirror_spikes.len(),
        r.tau_spikes.len(),
        r.any_steps.len(),
    );
    if let (Some(input), Some(readout)) = (first_input, r.any_steps.first()) {
        println!("first input spike in step {input}, first readout spike in step {readout}");
    }
    Ok(())
}

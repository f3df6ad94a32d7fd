//! STDP makes an output neuron selective to a repeated input pattern.
//!
//! 100 Poisson inputs on a 10 × 10 grid (5 Hz background) project onto one LIF neuron
//! through plastic synapses (pair STDP, depression slightly dominant, hard bounds). A fixed
//! group of 20 inputs, the two diagonals — an "X" — is presented again and again (50 ms at
//! +50 Hz, with shared, jittered spikes); see `ember_examples::stdp_receptive_field` for the
//! model, the parameters and why it works. The weights from the X grow to the bound and all
//! others decay (Song, Miller & Abbott 2000): before training the neuron answers the X and a
//! control group of 20 other inputs alike, after it it fires for the X only.
//!
//! The program prints the mean weights during training, a map of the learned weights and the
//! output rates in the two tests (learning frozen), and writes the weights before and after
//! training as a PNG heat map (each input a 24-pixel square at its grid position, dark = 0,
//! bright = the upper bound; a colour bar below) to the path given as the first argument,
//! default `out/stdp_weights.png`.
//!
//! Run with `cargo run --release -p ember-examples --example stdp_receptive_field [PNG]`.

use std::path::PathBuf;

use ember_examples::stdp_receptive_field::{
    INPUTS, SIDE, StdpConfig, run_stdp_receptive_field, write_weights_png,
};

/// Line-aligned state arrays: see [`ember_engine::alloc`].
#[global_allocator]
static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("out/stdp_weights.png"), PathBuf::from);
    let config = StdpConfig::default();
    let r = run_stdp_receptive_field(&config)?;
    let pattern_size = r.pattern.iter().filter(|p| **p).count();

    println!(
        "{INPUTS} Poisson inputs ({} Hz) → 1 LIF neuron, STDP; pattern: {pattern_size} inputs \
         (an X) at +{} Hz for {} ms, {} presentations",
        config.background_hz, config.active_hz, config.presentation_ms, config.train_presentations
    );
    println!("\npresentations  mean weight: pattern  other");
    for h in &r.history {
        println!(
            "{:>13}  {:>20.3}  {:>5.3}",
            h.presentations, h.pattern, h.other
        );
    }

    println!("\nlearned weights (0 ' ' … '@' {}):", config.weight_max);
    const SHADES: &[u8] = b" .:-=+*#%@";
    for row in r.weights_after.chunks(SIDE) {
        let line: String = row
            .iter()
            .map(|w| {
                let k = (w / config.weight_max * (SHADES.len() - 1) as f32).round() as usize;
                char::from(SHADES[k.min(SHADES.len() - 1)])
            })
            .flat_map(|c| [c, c])
            .collect();
        println!("  |{line}|");
    }
    let near = |select: bool, f: &dyn Fn(f32) -> bool| {
        r.weights_after
            .iter()
            .zip(&r.pattern)
            .filter(|(w, p)| **p == select && f(**w))
            .count()
    };
    let (hi, lo) = (0.9 * config.weight_max, 0.1 * config.weight_max);
    println!(
        "pattern inputs ≥ {hi:.1}: {}/{pattern_size}; other inputs ≤ {lo:.1}: {}/{}",
        near(true, &|w| w >= hi),
        near(false, &|w| w <= lo),
        INPUTS - pattern_size
    );
    println!(
        "mean weight: pattern {:.3}, other {:.3} ({:.1}×)",
        r.pattern_weight(),
        r.other_weight(),
        r.pattern_weight() / r.other_weight()
    );

    println!("\noutput rate (Hz, learning frozen)  pattern  control  background");
    for (name, t) in [("before training", r.before), ("after training", r.after)] {
        println!(
            "{name:>33}  {:>7.1}  {:>7.1}  {:>10.1}",
            t.pattern_hz, t.control_hz, t.background_hz
        );
    }
    println!(
        "\n{} input spikes, {} output spikes",
        r.input_spikes, r.output_spikes
    );

    write_weights_png(&path, &r, config.weight_max)?;
    println!("weights before | after training: {}", path.display());
    Ok(())
}

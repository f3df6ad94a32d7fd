//! The heterogeneous network of the `heterogeneous` example.

use std::collections::BTreeSet;

use ember_examples::heterogeneous::{HeterogeneousConfig, run_heterogeneous};

#[test]
fn spike_counts_are_monotone_in_the_spread_parameter() {
    let r = run_heterogeneous(&HeterogeneousConfig::default()).unwrap();

    // Shorter membrane time constant → at least as many spikes.
    let mut by_tau: Vec<(f32, u32)> = r
        .tc_membrane_ms
        .iter()
        .copied()
        .zip(r.tau_counts.iter().copied())
        .collect();
    by_tau.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(by_tau.windows(2).all(|w| w[0].1 >= w[1].1), "{by_tau:?}");
    assert!(
        by_tau[0].1 > by_tau[by_tau.len() - 1].1,
        "the spread must matter: {by_tau:?}"
    );

    // Thresholds increase with the index → counts do not.
    assert!(r.thresh_v_mv.windows(2).all(|w| w[0] < w[1]));
    assert!(
        r.thresh_counts.windows(2).all(|w| w[0] >= w[1]),
        "{:?}",
        r.thresh_counts
    );
    assert!(r.thresh_counts[0] > r.thresh_counts[r.thresh_counts.len() - 1]);
}

#[test]
fn readouts_spike_exactly_one_step_after_their_inputs() {
    let config = HeterogeneousConfig::default();
    let r = run_heterogeneous(&config).unwrap();
    let steps = (config.duration_ms / 0.1).round() as u64;
    assert!(!r.tau_spikes.is_empty() && !r.thresh_spikes.is_empty());

    // `mirror`: neuron i spikes in step k + 1 iff tau_spread neuron i spiked in step k.
    let expected: Vec<(u64, u32)> = r
        .tau_spikes
        .iter()
        .filter(|e| e.step + 1 < steps)
        .map(|e| (e.step + 1, e.neuron))
        .collect();
    let mirror: Vec<(u64, u32)> = r.mirror_spikes.iter().map(|e| (e.step, e.neuron)).collect();
    assert_eq!(mirror, expected);

    // `any`: spikes in step k + 1 iff some input neuron spiked in step k.
    let expected: Vec<u64> = r
        .tau_spikes
        .iter()
        .chain(&r.thresh_spikes)
        .map(|e| e.step + 1)
        .filter(|&s| s < steps)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(r.any_steps, expected);
}

#[test]
fn runs_are_deterministic() {
    let config = HeterogeneousConfig::default();
    let a = run_heterogeneous(&config).unwrap();
    let b = run_heterogeneous(&config).unwrap();
    assert_eq!(a, b);
    // The seed only changes the drawn time constants, not the linear threshold spread.
    let c = run_heterogeneous(&HeterogeneousConfig { seed: 8, ..config }).unwrap();
    assert_ne!(a.tc_membrane_ms, c.tc_membrane_ms);
    assert_eq!(a.thresh_counts, c.thresh_counts);
}

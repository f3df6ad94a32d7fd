//! The `stdp_receptive_field` example: STDP makes the output neuron selective to the
//! repeated pattern.

use std::sync::OnceLock;

use ember_examples::stdp_receptive_field::{
    CELL_PX, INPUTS, SIDE, StdpConfig, StdpResult, cross_pattern, run_stdp_receptive_field,
    weights_png,
};

/// Inputs of `r`'s pattern (`select`) or the others whose final weight passes `f`.
fn count(r: &StdpResult, select: bool, f: impl Fn(f32) -> bool) -> usize {
    r.weights_after
        .iter()
        .zip(&r.pattern)
        .filter(|(w, p)| **p == select && f(**w))
        .count()
}

/// The example's own run (≈ 1.5 s in a debug build), shared by the tests.
fn default_run() -> &'static StdpResult {
    static RESULT: OnceLock<StdpResult> = OnceLock::new();
    RESULT.get_or_init(|| run_stdp_receptive_field(&StdpConfig::default()).unwrap())
}

#[test]
fn stdp_makes_the_output_selective_to_the_pattern() {
    let config = StdpConfig::default();
    let w_max = config.weight_max;
    let r = default_run();
    let (pattern, other) = (r.pattern_weight(), r.other_weight());
    println!(
        "weights: pattern {pattern}, other {other}; {:?} → {:?}",
        r.before, r.after
    );

    // Before training: random weights, and the pattern and the control drive the neuron
    // alike (weakly).
    assert!(r.weights_before.iter().all(|w| (0.25..0.75).contains(w)));
    assert!(
        r.before.pattern_hz < 25.0 && r.before.control_hz < 25.0,
        "{:?}",
        r.before
    );

    // After: the pattern's weights at the bound, the others depressed.
    assert!(pattern > 0.85 * w_max, "pattern {pattern}");
    assert!(pattern > 5.0 * other, "pattern {pattern}, other {other}");
    assert!(
        count(r, true, |w| w >= 0.9 * w_max) >= 18,
        "{:?}",
        r.weights_after
    );
    assert!(
        count(r, false, |w| w <= 0.1 * w_max) >= 40,
        "{:?}",
        r.weights_after
    );
    let first = r.history.first().unwrap();
    let last = r.history.last().unwrap();
    assert_eq!(last.presentations, config.train_presentations);
    assert!(
        last.pattern > first.pattern + 1.0 && last.other < first.other,
        "{:?}",
        r.history
    );

    // Selectivity, learning frozen: the pattern drives the neuron hard, the control
    // pattern (same size, rates and correlation) hardly at all.
    assert!(r.after.pattern_hz >= 40.0, "{:?}", r.after);
    assert!(
        r.after.pattern_hz >= 3.0 * r.before.pattern_hz,
        "{:?} → {:?}",
        r.before,
        r.after
    );
    assert!(
        r.after.control_hz * 5.0 <= r.after.pattern_hz,
        "{:?}",
        r.after
    );
    assert!(
        r.after.control_hz <= r.before.control_hz,
        "{:?} → {:?}",
        r.before,
        r.after
    );
}

/// Between two pattern presentations a fresh random group is presented the same way: the
/// neuron still picks the one that repeats.
#[test]
fn the_repeated_pattern_wins_over_random_distractors() {
    let r = run_stdp_receptive_field(&StdpConfig {
        distractors: true,
        ..Default::default()
    })
    .unwrap();
    let (pattern, other) = (r.pattern_weight(), r.other_weight());
    assert!(pattern > 3.0 * other, "pattern {pattern}, other {other}");
    assert!(r.after.pattern_hz >= 40.0, "{:?}", r.after);
    assert!(
        r.after.control_hz * 4.0 <= r.after.pattern_hz,
        "{:?}",
        r.after
    );
}

/// Without shared spikes the pattern still wins, more slowly (the module docs' numbers).
#[test]
fn independent_pattern_inputs_are_learned_more_slowly() {
    let r = run_stdp_receptive_field(&StdpConfig {
        correlation: 0.0,
        ..Default::default()
    })
    .unwrap();
    let (pattern, other) = (r.pattern_weight(), r.other_weight());
    println!(
        "independent: pattern {pattern}, other {other}; {:?}",
        r.after
    );
    assert!(pattern > 3.0 * other, "pattern {pattern}, other {other}");
    assert!(pattern < default_run().pattern_weight(), "{pattern}");
    assert!(
        r.after.control_hz * 4.0 <= r.after.pattern_hz,
        "{:?}",
        r.after
    );
}

#[test]
fn runs_are_reproducible_and_independent_of_the_thread_count() {
    let config = StdpConfig {
        train_presentations: 40,
        test_presentations: 5,
        report_every: 10,
        ..Default::default()
    };
    let a = run_stdp_receptive_field(&config).unwrap();
    let b = run_stdp_receptive_field(&config).unwrap();
    let c = run_stdp_receptive_field(&StdpConfig {
        threads: 2,
        ..config.clone()
    })
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert!(a.output_spikes > 0 && a.weights_after != a.weights_before);
    // Another seed, other trains.
    let d = run_stdp_receptive_field(&StdpConfig { seed: 2, ..config }).unwrap();
    assert_ne!(a.weights_after, d.weights_after);
}

#[test]
fn the_pattern_is_an_x_and_the_control_avoids_it() {
    let pattern = cross_pattern();
    assert_eq!(pattern.iter().filter(|p| **p).count(), 2 * SIDE);
    assert!(pattern[0] && pattern[SIDE - 1] && pattern[INPUTS - 1] && !pattern[1]);
    let r = run_stdp_receptive_field(&StdpConfig {
        train_presentations: 1,
        test_presentations: 1,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(r.pattern, pattern);
    assert_eq!(r.control.iter().filter(|c| **c).count(), 2 * SIDE);
    assert!(r.control.iter().zip(&pattern).all(|(c, p)| !(*c && *p)));
    assert!(
        run_stdp_receptive_field(&StdpConfig {
            correlation: 1.5,
            ..Default::default()
        })
        .is_err()
    );
}

#[test]
fn weight_picture_is_a_png_of_both_maps() {
    let before = vec![0.0; INPUTS];
    let after: Vec<f32> = cross_pattern()
        .iter()
        .map(|&p| if p { 2.0 } else { 0.0 })
        .collect();
    let bytes = weights_png(&before, &after, 2.0).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut rgb = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut rgb).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let panel = SIDE * CELL_PX;
    assert!(info.width as usize > 2 * panel && info.height as usize > panel);
    let width = info.width as usize;
    let pixel = |x: usize, y: usize| {
        let k = 3 * (y * width + x);
        [rgb[k], rgb[k + 1], rgb[k + 2]]
    };
    let brightness = |[r, g, b]: [u8; 3]| u32::from(r) + u32::from(g) + u32::from(b);
    // Centre of cell (row 0, column 0) in each panel: dark before, bright after; cell
    // (0, 1) dark in both. Panels are left to right, `CELL_PX` per cell, after a margin.
    let margin = (width - 2 * panel) / 3;
    let centre = |p: usize, r: usize, c: usize| {
        let x0 = if p == 0 {
            margin
        } else {
            width - margin - panel
        };
        pixel(
            x0 + c * CELL_PX + CELL_PX / 2,
            margin + r * CELL_PX + CELL_PX / 2,
        )
    };
    assert!(brightness(centre(0, 0, 0)) < 100);
    assert!(brightness(centre(1, 0, 0)) > 600);
    assert!(brightness(centre(1, 0, 1)) < 100);
}

//! Stimuli (issue 5): the sine equation in closed form, Gaussian noise statistics, hold
//! intervals and determinism, several stimuli adding up, scenario fields and build errors.
//!
//! The target is a probe model without systems, so a population's recorded `input` trace is
//! exactly the sum of its stimuli in each step.

use std::f64::consts::TAU;

use bevy_ecs::prelude::*;
use ember_engine::prelude::*;
use ember_engine::{BuildErrorKind, ModelSystems, ParamError, ParamReader};

/// A neuron model that does nothing: its input is what the stimuli put there.
#[derive(Component, Clone, Debug)]
struct Probe;

impl NeuronModel for Probe {
    const NAME: &'static str = "probe";
    const PARAMS: &'static [&'static str] = &[];

    fn from_params(_: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Probe)
    }

    fn validate(&self, _: usize) -> Result<(), ParamError> {
        Ok(())
    }

    fn initial_voltage(&self, _: usize) -> f32 {
        0.0
    }

    fn add_systems(_: &mut ModelSystems<'_>) {}
}

fn sim(step_time: f64, seed: u64, batch_size: u32, threads: usize) -> Simulation {
    Simulation::new(SimConfig {
        step_time,
        seed,
        batch_size,
        threads,
        ..Default::default()
    })
    .unwrap()
}

fn probe(sim: &mut Simulation, name: &str, size: u32) -> PopulationId {
    sim.add_population(name, size, Probe, Default::default())
        .unwrap()
}

/// The recorded input of every neuron, batch copy and step: `[step][batch][neuron]`.
fn inputs(sim: &mut Simulation, pop: PopulationId, steps: u64) -> Vec<Vec<Vec<f32>>> {
    let rec = sim
        .record_trace(pop, vec![TraceVariable::Input], None, 1)
        .unwrap();
    sim.run_steps(steps).unwrap();
    let r = sim.trace(rec).unwrap();
    let batch = sim.config().batch_size as usize;
    (0..r.steps.len())
        .map(|s| {
            (0..batch)
                .map(|b| {
                    (0..r.neurons.len())
                        .map(|k| r.value(s, 0, b, k, batch))
                        .collect()
                })
                .collect()
        })
        .collect()
}

#[test]
fn sine_matches_the_closed_form_at_every_step() {
    let mut s = sim(0.1, 0, 1, 1);
    let p = probe(&mut s, "p", 3);
    let amplitude = [1.0f32, 2.0, -3.0];
    let offset = [0.5f32, 0.0, -0.25];
    let (f, phase) = (50.0, 0.3);
    s.add_sine(
        p,
        Sine {
            amplitude: amplitude.to_vec().into(),
            frequency: f,
            phase,
            offset: offset.to_vec().into(),
            start: 1.0,
            stop: Some(3.0),
            neurons: None,
        },
    )
    .unwrap();
    let got = inputs(&mut s, p, 40);
    for (k, step) in got.iter().enumerate() {
        // t = k·Δt, the start of step k; on for 1.0 ≤ t < 3.0, steps 10..30.
        let t = k as f64 * 0.1;
        for j in 0..3 {
            let expected = if (10..30).contains(&k) {
                (f64::from(offset[j])
                    + f64::from(amplitude[j]) * (TAU * f * t / 1000.0 + phase).sin())
                    as f32
            } else {
                0.0
            };
            assert_eq!(step[0][j], expected, "step {k}, neuron {j}");
        }
    }
    // Spot checks of the equation itself: 50 Hz has a 20 ms period, so at t = 5 ms (step 50
    // with Δt = 0.1) the sine is at a quarter period.
    let mut s = sim(0.1, 0, 1, 1);
    let p = probe(&mut s, "p", 1);
    let mut sine = Sine::new(2.0, 50.0);
    sine.offset = 1.0.into();
    s.add_sine(p, sine).unwrap();
    let got = inputs(&mut s, p, 101);
    assert_eq!(got[0][0][0], 1.0); // sin(0) = 0
    assert!((got[50][0][0] - 3.0).abs() < 1e-6, "{}", got[50][0][0]); // sin(π/2) = 1
    assert!((got[100][0][0] - 1.0).abs() < 1e-6, "{}", got[100][0][0]); // sin(π) = 0
}

#[test]
fn sine_on_selected_neurons_and_every_batch_copy() {
    let mut s = sim(0.5, 0, 2, 1);
    let p = probe(&mut s, "p", 4);
    let mut sine = Sine::new(vec![1.0, 3.0], 100.0);
    sine.neurons = Some(vec![3, 1]);
    sine.phase = 1.0;
    s.add_sine(p, sine).unwrap();
    let got = inputs(&mut s, p, 8);
    for (k, step) in got.iter().enumerate() {
        let sin = (TAU * 100.0 * (k as f64 * 0.5) / 1000.0 + 1.0).sin();
        for copy in step {
            assert_eq!(copy[0], 0.0);
            assert_eq!(copy[2], 0.0);
            assert_eq!(copy[3], sin as f32);
            assert_eq!(copy[1], (3.0 * sin) as f32);
        }
    }
}

/// Mean and (unbiased) variance.
fn moments(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// The sample mean and variance of `xs` (n draws of N(mean, std²)) are within 4σ of their
/// expectations: σ of the mean is std/√n, σ of the variance ≈ std²·√(2/(n − 1)).
fn assert_normal(xs: &[f64], mean: f64, std: f64, what: &str) {
    let n = xs.len() as f64;
    let (m, v) = moments(xs);
    assert!(
        (m - mean).abs() < 4.0 * std / n.sqrt(),
        "{what}: mean {m}, expected {mean} ± 4·{}",
        std / n.sqrt()
    );
    let sd_v = std * std * (2.0 / (n - 1.0)).sqrt();
    assert!(
        (v - std * std).abs() < 4.0 * sd_v,
        "{what}: variance {v}, expected {} ± 4·{sd_v}",
        std * std
    );
}

#[test]
fn noise_has_the_requested_mean_and_std_across_neurons_and_time() {
    let (mean, std) = (1.5, 0.5);
    let mut s = sim(0.1, 11, 2, 1);
    let p = probe(&mut s, "p", 2000);
    s.add_noise(p, Noise::new(mean as f32, std as f32)).unwrap();
    let got = inputs(&mut s, p, 200);
    // Across neurons in one step, per batch copy.
    for (b, copy) in got[7].iter().enumerate() {
        let xs: Vec<f64> = copy.iter().map(|&x| f64::from(x)).collect();
        assert_normal(&xs, mean, std, &format!("step 7, copy {b}"));
    }
    // Across steps for one neuron.
    let xs: Vec<f64> = got.iter().map(|s| f64::from(s[1][42])).collect();
    assert_normal(&xs, mean, std, "neuron 42 over time");
    // Consecutive steps are uncorrelated (interval = Δt): lag-1 correlation within 4/√n.
    let n = 2000;
    let (a, b): (Vec<f64>, Vec<f64>) = (0..n)
        .map(|j| (f64::from(got[10][0][j]), f64::from(got[11][0][j])))
        .unzip();
    let (ma, va) = moments(&a);
    let (mb, vb) = moments(&b);
    let cov = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (n as f64 - 1.0);
    let r = cov / (va * vb).sqrt();
    assert!(r.abs() < 4.0 / (n as f64).sqrt(), "lag-1 correlation {r}");
    // The batch copies draw independently.
    assert_ne!(got[7][0], got[7][1]);
}

#[test]
fn noise_is_redrawn_every_interval_from_start_and_held_in_between() {
    let mut s = sim(0.1, 3, 1, 1);
    let p = probe(&mut s, "p", 5);
    let mut noise = Noise::new(0.0, 1.0);
    noise.interval = Some(0.5); // 5 steps
    noise.start = 0.3; // step 3
    noise.stop = Some(2.0); // step 20
    s.add_noise(p, noise).unwrap();
    let got = inputs(&mut s, p, 25);
    for (k, step) in got.iter().enumerate() {
        if !(3..20).contains(&k) {
            assert!(step[0].iter().all(|&x| x == 0.0), "step {k}: {:?}", step[0]);
        } else if (k - 3) % 5 == 0 {
            if k > 3 {
                assert_ne!(step[0], got[k - 1][0], "step {k} should redraw");
            }
        } else {
            assert_eq!(step[0], got[k - 1][0], "step {k} should hold");
        }
    }
}

#[test]
fn noise_draws_depend_on_seed_neuron_and_draw_only() {
    let run = |seed: u64, threads: usize, neurons: Option<Vec<u32>>| {
        let mut s = sim(0.1, seed, 2, threads);
        // Another population and stimulus declared first change nothing.
        let q = probe(&mut s, "q", 7);
        s.add_noise(q, Noise::new(0.0, 1.0)).unwrap();
        let p = probe(&mut s, "p", 50);
        let mut noise = Noise::new(0.2, 0.7);
        noise.neurons = neurons;
        s.add_noise(p, noise).unwrap();
        inputs(&mut s, p, 30)
    };
    let a = run(5, 1, None);
    assert_eq!(a, run(5, 1, None));
    assert_eq!(a, run(5, 3, None), "thread count changed the draws");
    assert_ne!(a, run(6, 1, None));
    // Neuron 17's draws do not depend on which other neurons are stimulated.
    let only = run(5, 1, Some(vec![17]));
    for (sa, so) in a.iter().zip(&only) {
        for b in 0..2 {
            assert_eq!(sa[b][17], so[b][17]);
            assert_eq!(so[b].iter().filter(|&&x| x != 0.0).count(), 1);
        }
    }
}

#[test]
fn current_sine_and_noise_on_one_target_add_up() {
    type Add = fn(&mut Simulation, PopulationId);
    let current: Add = |s, p| {
        s.add_current(p, Param::Scalar(0.75), 0.2, Some(1.5), None)
            .unwrap();
    };
    let sine: Add = |s, p| {
        let mut sine = Sine::new(vec![1.0, 2.0, 3.0], 200.0);
        sine.offset = 0.1.into();
        s.add_sine(p, sine).unwrap();
    };
    let noise: Add = |s, p| {
        let mut noise = Noise::new(-0.5, 0.3);
        noise.interval = Some(0.2);
        s.add_noise(p, noise).unwrap();
    };
    let run = |adds: &[Add]| {
        let mut s = sim(0.1, 9, 2, 1);
        let p = probe(&mut s, "p", 3);
        for add in adds {
            add(&mut s, p);
        }
        inputs(&mut s, p, 20)
    };
    let (c, si, n) = (run(&[current]), run(&[sine]), run(&[noise]));
    // Added in a fixed order (currents, then sines, then noise), whatever the creation order.
    for all in [run(&[current, sine, noise]), run(&[noise, sine, current])] {
        for k in 0..20 {
            for b in 0..2 {
                for j in 0..3 {
                    let expected = (c[k][b][j] + si[k][b][j]) + n[k][b][j];
                    assert_eq!(all[k][b][j], expected, "step {k}, copy {b}, neuron {j}");
                }
            }
        }
    }
}

#[test]
fn invalid_stimuli_are_rejected_with_their_field() {
    let mut s = sim(0.1, 0, 1, 1);
    let p = probe(&mut s, "p", 4);
    let path = |e: BuildError| e.path;
    let sine = |f: &dyn Fn(&mut Sine)| {
        let mut x = Sine::new(1.0, 10.0);
        f(&mut x);
        x
    };
    let noise = |f: &dyn Fn(&mut Noise)| {
        let mut x = Noise::new(0.0, 1.0);
        f(&mut x);
        x
    };
    let cases_sine = [
        (sine(&|x| x.frequency = -1.0), "frequency"),
        (sine(&|x| x.frequency = f64::NAN), "frequency"),
        (sine(&|x| x.phase = f64::INFINITY), "phase"),
        (sine(&|x| x.amplitude = f32::NAN.into()), "amplitude"),
        (sine(&|x| x.offset = vec![1.0, 2.0].into()), "offset"),
        (sine(&|x| x.neurons = Some(vec![0, 4])), "neurons"),
        (sine(&|x| x.start = -1.0), "start"),
        (sine(&|x| x.stop = Some(-1.0)), "stop"),
    ];
    for (x, field) in cases_sine {
        let e = s.add_sine(p, x).unwrap_err();
        assert_eq!(path(e), format!("stimulus on \"p\".{field}"));
    }
    let cases_noise = [
        (noise(&|x| x.std = (-0.1).into()), "std"),
        (noise(&|x| x.std = f32::NAN.into()), "std"),
        (noise(&|x| x.mean = f32::INFINITY.into()), "mean"),
        (noise(&|x| x.interval = Some(0.0)), "interval"),
        (noise(&|x| x.interval = Some(-0.1)), "interval"),
        (noise(&|x| x.interval = Some(0.25)), "interval"),
        (noise(&|x| x.interval = Some(f64::NAN)), "interval"),
        (noise(&|x| x.neurons = Some(vec![9])), "neurons"),
        (noise(&|x| x.mean = vec![1.0; 3].into()), "mean"),
    ];
    for (x, field) in cases_noise {
        let e = s.add_noise(p, x).unwrap_err();
        assert!(matches!(e.kind, BuildErrorKind::Invalid(_)), "{e}");
        assert_eq!(path(e), format!("stimulus on \"p\".{field}"));
    }
    // A whole multiple of Δt is fine.
    let mut ok = Noise::new(0.0, 1.0);
    ok.interval = Some(0.3);
    s.add_noise(p, ok).unwrap();
}

const SCENARIO: &str = r#"
[simulation]
step_time = 0.1
duration = 2.0
seed = 4

[[population]]
name = "p"
size = 3
model = "probe"

[[stimulus]]
target = "p"
kind = "sine"
amplitude = [1.0, 2.0]
frequency = 250
phase = 0.5
offset = 0.25
start = 0.5
neurons = [0, 2]

[[stimulus]]
target = "p"
kind = "noise"
mean = 1.0
std = { uniform = [0.5, 1.0] }
interval = 0.4
stop = 1.0

[[stimulus]]
target = "p"
kind = "current"
amplitude = 2.0

[[record]]
population = "p"
variables = ["input"]
"#;

#[test]
fn scenario_stimuli_build_the_same_as_the_rust_api() {
    let sc = Scenario::from_toml(SCENARIO).unwrap();
    let mut a = Simulation::new(sc.config(1).unwrap()).unwrap();
    a.register_neuron_model::<Probe>();
    let h = a.add_scenario(&sc).unwrap();
    a.run_steps(h.steps).unwrap();
    let ra = a.trace(h.trace_recorders[0].1).unwrap();

    let mut b = sim(0.1, 4, 1, 1);
    let p = probe(&mut b, "p", 3);
    let mut sine = Sine::new(vec![1.0, 2.0], 250.0);
    sine.phase = 0.5;
    sine.offset = 0.25.into();
    sine.start = 0.5;
    sine.neurons = Some(vec![0, 2]);
    b.add_sine(p, sine).unwrap();
    let std = ValueSpec::Uniform { lo: 0.5, hi: 1.0 }
        .realize(3, 4, "stimulus[1].std")
        .unwrap();
    let mut noise = Noise::new(1.0, std);
    noise.interval = Some(0.4);
    noise.stop = Some(1.0);
    b.add_noise(p, noise).unwrap();
    b.add_current(p, Param::Scalar(2.0), 0.0, None, None)
        .unwrap();
    let got = inputs(&mut b, p, h.steps);
    for (s, step) in got.iter().enumerate() {
        for (j, &x) in step[0].iter().enumerate() {
            assert_eq!(ra.value(s, 0, 0, j, 1), x, "step {s}, neuron {j}");
        }
    }
    // Neuron 1 has no sine: current + noise until 1 ms, then the current alone.
    assert_eq!(ra.value(15, 0, 0, 1, 1), 2.0);
    assert_ne!(ra.value(5, 0, 0, 1, 1), 2.0);
}

#[test]
fn scenario_stimuli_round_trip_through_toml() {
    let sc = Scenario::from_toml(SCENARIO).unwrap();
    let text = sc.to_toml().unwrap();
    assert_eq!(Scenario::from_toml(&text).unwrap(), sc, "{text}");
    // Defaults are left out when saving.
    let minimal = SCENARIO
        .replace("phase = 0.5\n", "")
        .replace("offset = 0.25\n", "")
        .replace("interval = 0.4\n", "");
    let text = Scenario::from_toml(&minimal).unwrap().to_toml().unwrap();
    assert!(!text.contains("phase") && !text.contains("offset") && !text.contains("interval"));
}

#[test]
fn scenario_stimulus_errors_name_the_field() {
    let build = |text: &str| {
        let sc = Scenario::from_toml(text).unwrap();
        let mut s = Simulation::new(sc.config(1).unwrap()).unwrap();
        s.register_neuron_model::<Probe>();
        s.add_scenario(&sc).map(|_| ()).unwrap_err()
    };
    let cases = [
        (
            "frequency = 250",
            "frequency = -250",
            "stimulus[0].frequency",
        ),
        (
            "std = { uniform = [0.5, 1.0] }",
            "std = -1.0",
            "stimulus[1].std",
        ),
        (
            "std = { uniform = [0.5, 1.0] }",
            "std = { normal = { mean = 0.0, std = -1.0 } }",
            "stimulus[1].std",
        ),
        ("interval = 0.4", "interval = 0.45", "stimulus[1].interval"),
        ("interval = 0.4", "interval = 0.0", "stimulus[1].interval"),
        (
            "neurons = [0, 2]",
            "neurons = [0, 3]",
            "stimulus[0].neurons",
        ),
        (
            "amplitude = [1.0, 2.0]",
            "amplitude = [1.0]",
            "stimulus[0].amplitude",
        ),
        ("offset = 0.25", "offset = nan", "stimulus[0].offset"),
        ("stop = 1.0", "stop = 0.1\nstart = 0.2", "stimulus[1].stop"),
        (
            "target = \"p\"\nkind = \"sine\"",
            "target = \"q\"\nkind = \"sine\"",
            "stimulus[0].target",
        ),
    ];
    for (from, to, path) in cases {
        assert!(SCENARIO.contains(from), "{from}");
        let e = build(&SCENARIO.replacen(from, to, 1));
        assert_eq!(e.path, path, "{to}: {e}");
    }
    // Missing required fields and unknown fields are parse errors.
    assert!(Scenario::from_toml(&SCENARIO.replace("frequency = 250\n", "")).is_err());
    assert!(Scenario::from_toml(&SCENARIO.replace("mean = 1.0\n", "")).is_err());
    assert!(Scenario::from_toml(&SCENARIO.replace("phase = 0.5", "phse = 0.5")).is_err());
}

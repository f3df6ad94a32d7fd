//! Statistical and determinism tests of the connection rules (issue 4, acceptance point 2).
//!
//! Counts are checked against their binomial expectation within 4σ; seeds are fixed, so the
//! tests are deterministic.

use ember_engine::ConnectRule;
use ember_engine::connectivity::ConnectError;
use ember_engine::projection::Connectivity;

fn in_degrees(c: &Connectivity, post: u32) -> Vec<usize> {
    let mut d = vec![0; post as usize];
    for j in c.targets() {
        d[j as usize] += 1;
    }
    d
}

fn assert_rows_strictly_increasing(c: &Connectivity, post: u32) {
    for i in 0..c.pre_size() {
        let row = c.row(i).to_vec();
        assert!(row.windows(2).all(|w| w[0] < w[1]), "row {i}: {row:?}");
        assert!(row.iter().all(|&j| j < post), "row {i} out of range");
    }
}

fn autapse_count(c: &Connectivity) -> usize {
    (0..c.pre_size())
        .filter(|&i| c.row(i).contains(i as u32))
        .count()
}

/// |x − n·p| < 4·sqrt(n·p·(1 − p)).
fn assert_binomial(x: usize, n: f64, p: f64, what: &str) {
    let (mean, sd) = (n * p, (n * p * (1.0 - p)).sqrt());
    assert!(
        (x as f64 - mean).abs() < 4.0 * sd,
        "{what}: {x}, expected {mean} ± 4·{sd}"
    );
}

/// Each count ~ Binomial(n, p) within 4σ, and the sum of squared z-scores (≈ χ² with
/// `counts.len()` degrees of freedom) within 4 standard deviations of its mean.
fn assert_uniform_counts(counts: &[usize], n: f64, p: f64, what: &str) {
    let (mean, var) = (n * p, n * p * (1.0 - p));
    let mut chi2 = 0.0;
    for (i, &x) in counts.iter().enumerate() {
        assert_binomial(x, n, p, &format!("{what} {i}"));
        chi2 += (x as f64 - mean).powi(2) / var;
    }
    let df = counts.len() as f64;
    assert!(
        (chi2 - df).abs() < 4.0 * (2.0 * df).sqrt(),
        "{what}: χ² {chi2} for {df} counts"
    );
}

#[test]
fn fixed_probability_autapses_on_a_self_projection() {
    let (n, p) = (3000u32, 0.02);
    let with = ConnectRule::FixedProbability { p, autapses: true }
        .build(n, n, true, 7, "e_to_e")
        .unwrap();
    let nf = f64::from(n);
    assert_binomial(with.len(), nf * nf, p, "synapses with autapses");
    assert_binomial(autapse_count(&with), nf, p, "autapses");
    let without = ConnectRule::FixedProbability { p, autapses: false }
        .build(n, n, true, 7, "e_to_e")
        .unwrap();
    assert_eq!(autapse_count(&without), 0);
    assert_binomial(
        without.len(),
        nf * (nf - 1.0),
        p,
        "synapses without autapses",
    );
    assert_rows_strictly_increasing(&without, n);
    // Per-post in-degrees are uniform too.
    assert_uniform_counts(
        &in_degrees(&without, n)[..200],
        nf - 1.0,
        p,
        "in-degree of post",
    );
}

#[test]
fn fixed_indegree_exact_in_degrees_distinct_sorted() {
    let (pre, post, k) = (300u32, 2000u32, 30u64);
    let c = ConnectRule::FixedIndegree { k, autapses: true }
        .build(pre, post, false, 3, "a_to_b")
        .unwrap();
    assert_eq!(c.len(), (post as u64 * k) as usize);
    assert!(in_degrees(&c, post).iter().all(|&d| d as u64 == k));
    // Strictly increasing rows: no duplicate (pre, post) pair anywhere.
    assert_rows_strictly_increasing(&c, post);
}

#[test]
fn fixed_indegree_draws_pre_neurons_uniformly() {
    // Pre neuron i appears in each post row with probability k / pre: its out-degree is
    // Binomial(post, k / pre).
    let (pre, post, k) = (100u32, 5000u32, 10u64);
    let c = ConnectRule::FixedIndegree { k, autapses: true }
        .build(pre, post, false, 11, "a_to_b")
        .unwrap();
    let out: Vec<usize> = (0..pre as usize).map(|i| c.row(i).len()).collect();
    assert_uniform_counts(&out, f64::from(post), k as f64 / f64::from(pre), "pre");
}

#[test]
fn fixed_indegree_autapses_on_a_self_projection() {
    let n = 1000u32;
    let without = ConnectRule::FixedIndegree {
        k: 50,
        autapses: false,
    }
    .build(n, n, true, 5, "e_to_e")
    .unwrap();
    assert_eq!(autapse_count(&without), 0);
    assert!(in_degrees(&without, n).iter().all(|&d| d == 50));
    let with = ConnectRule::FixedIndegree {
        k: 50,
        autapses: true,
    }
    .build(n, n, true, 5, "e_to_e")
    .unwrap();
    assert_binomial(
        autapse_count(&with),
        f64::from(n),
        50.0 / f64::from(n),
        "autapses",
    );
    // The largest k without autapses is all-to-all minus the diagonal.
    let full = ConnectRule::FixedIndegree {
        k: 9,
        autapses: false,
    }
    .build(10, 10, true, 5, "e_to_e")
    .unwrap();
    let all = ConnectRule::AllToAll { autapses: false }
        .build(10, 10, true, 0, "e_to_e")
        .unwrap();
    assert_eq!(full, all);
    // With autapses (or between two populations) k may equal the pre size.
    assert_eq!(
        ConnectRule::FixedIndegree {
            k: 10,
            autapses: true
        }
        .build(10, 10, true, 5, "e_to_e")
        .unwrap()
        .len(),
        100
    );
}

#[test]
fn fixed_outdegree_exact_out_degrees_distinct_uniform() {
    let (pre, post, k) = (5000u32, 100u32, 10u64);
    let c = ConnectRule::FixedOutdegree { k, autapses: true }
        .build(pre, post, false, 13, "a_to_b")
        .unwrap();
    assert!((0..pre as usize).all(|i| c.row(i).len() as u64 == k));
    assert_rows_strictly_increasing(&c, post);
    assert_uniform_counts(
        &in_degrees(&c, post),
        f64::from(pre),
        k as f64 / f64::from(post),
        "post",
    );
}

#[test]
fn fixed_outdegree_autapses_on_a_self_projection() {
    let n = 1000u32;
    let without = ConnectRule::FixedOutdegree {
        k: 50,
        autapses: false,
    }
    .build(n, n, true, 17, "e_to_e")
    .unwrap();
    assert_eq!(autapse_count(&without), 0);
    assert!((0..n as usize).all(|i| without.row(i).len() == 50));
    assert_rows_strictly_increasing(&without, n);
    let with = ConnectRule::FixedOutdegree {
        k: 50,
        autapses: true,
    }
    .build(n, n, true, 17, "e_to_e")
    .unwrap();
    assert_binomial(
        autapse_count(&with),
        f64::from(n),
        50.0 / f64::from(n),
        "autapses",
    );
    let full = ConnectRule::FixedOutdegree {
        k: 9,
        autapses: false,
    }
    .build(10, 10, true, 5, "e_to_e")
    .unwrap();
    let all = ConnectRule::AllToAll { autapses: false }
        .build(10, 10, true, 0, "e_to_e")
        .unwrap();
    assert_eq!(full, all);
}

#[test]
fn degree_larger_than_available_is_an_error() {
    let indeg = |k, autapses| ConnectRule::FixedIndegree { k, autapses };
    let outdeg = |k, autapses| ConnectRule::FixedOutdegree { k, autapses };
    // Self-projection without autapses: at most size − 1.
    let e = indeg(10, false).build(10, 10, true, 0, "e").unwrap_err();
    assert_eq!(
        e,
        ConnectError::DegreeTooLarge {
            rule: "fixed_indegree",
            k: 10,
            side: "pre",
            size: 10,
            available: 9,
            without_self: true
        }
    );
    assert_eq!(
        e.to_string(),
        "fixed_indegree = 10 needs 10 distinct pre neurons per row, but only 9 are available \
         (pre size 10, minus the neuron itself: autapses are off)"
    );
    // Between populations the limit is the drawn side's size.
    assert!(indeg(6, false).build(5, 100, false, 0, "e").is_err());
    assert!(indeg(5, false).build(5, 100, false, 0, "e").is_ok());
    let e = outdeg(101, true).build(5, 100, false, 0, "e").unwrap_err();
    assert_eq!(
        e.to_string(),
        "fixed_outdegree = 101 needs 101 distinct post neurons per row, but only 100 are \
         available (post size 100)"
    );
    assert!(outdeg(100, false).build(100, 100, true, 0, "e").is_err());
    // k = 0 is valid and empty.
    assert!(
        outdeg(0, false)
            .build(3, 0, false, 0, "e")
            .unwrap()
            .is_empty()
    );
    assert!(
        indeg(0, false)
            .build(0, 3, false, 0, "e")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn pairs_keep_the_order_given_within_each_pre_neuron() {
    let pairs = vec![[0, 2], [0, 1], [2, 2], [3, 0]];
    let c = ConnectRule::Pairs(pairs.clone())
        .build(4, 3, false, 0, "p")
        .unwrap();
    // Synapse order is the order given: per-synapse lists index `pairs` directly.
    assert_eq!(c.to_csr(), (vec![0, 2, 2, 3, 4], vec![2, 1, 2, 0]));
    let listed: Vec<[u32; 2]> = (0..c.pre_size())
        .flat_map(|i| c.row(i).iter().map(move |j| [i as u32, j]))
        .collect();
    assert_eq!(listed, pairs);
    // An explicit [i, i] on a self-projection is kept.
    let c = ConnectRule::Pairs(vec![[1, 1]])
        .build(2, 2, true, 0, "p")
        .unwrap();
    assert_eq!(c.row(1).to_vec(), [1]);
    assert!(
        ConnectRule::Pairs(vec![])
            .build(2, 2, true, 0, "p")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn pairs_errors() {
    let build = |pairs: Vec<[u32; 2]>| ConnectRule::Pairs(pairs).build(4, 3, false, 0, "p");
    let e = build(vec![[0, 0], [4, 1]]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "pair 1 [4, 1]: pre index 4 is out of range for pre size 4"
    );
    let e = build(vec![[0, 3]]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "pair 0 [0, 3]: post index 3 is out of range for post size 3"
    );
    let e = build(vec![[0, 1], [1, 2], [0, 1]]).unwrap_err();
    assert!(
        matches!(
            e,
            ConnectError::PairsNotGrouped {
                index: 2,
                previous: 1,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "pair 2 [0, 1] comes after a pair with pre 1: list pairs grouped by pre neuron in \
         non-decreasing pre order (synapses are stored by pre neuron and keep the order given)"
    );
    let e = build(vec![[0, 1], [0, 2], [0, 1]]).unwrap_err();
    assert_eq!(
        e,
        ConnectError::DuplicatePair {
            index: 2,
            first: 0,
            pair: [0, 1]
        }
    );
    assert_eq!(
        e.to_string(),
        "pair 2 [0, 1] repeats pair 0; each (pre, post) pair may appear once"
    );
}

#[test]
fn one_to_one_size_mismatch() {
    let e = ConnectRule::OneToOne
        .build(4, 5, false, 0, "p")
        .unwrap_err();
    assert_eq!(e, ConnectError::SizeMismatch { pre: 4, post: 5 });
}

#[test]
fn random_rules_depend_on_seed_and_name() {
    for rule in [
        ConnectRule::FixedIndegree {
            k: 5,
            autapses: false,
        },
        ConnectRule::FixedOutdegree {
            k: 5,
            autapses: false,
        },
    ] {
        let a = rule.build(200, 200, true, 1, "x").unwrap();
        assert_eq!(a, rule.build(200, 200, true, 1, "x").unwrap());
        assert_ne!(a, rule.build(200, 200, true, 2, "x").unwrap());
        assert_ne!(a, rule.build(200, 200, true, 1, "y").unwrap());
    }
}

fn build_in_pool(threads: usize, rule: &ConnectRule, pre: u32, post: u32) -> Connectivity {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| rule.build(pre, post, true, 2024, "exc_to_exc"))
        .unwrap()
}

/// ~10⁶-synapse projections are bit-identical whether built on 1, 2 or 3 threads (the
/// indegree transpose splits its work differently for each).
#[test]
fn million_synapse_projections_identical_on_1_and_2_threads() {
    let n = 10_000;
    for rule in [
        ConnectRule::FixedProbability {
            p: 0.01,
            autapses: false,
        },
        ConnectRule::FixedIndegree {
            k: 100,
            autapses: false,
        },
        ConnectRule::FixedOutdegree {
            k: 100,
            autapses: false,
        },
    ] {
        let one = build_in_pool(1, &rule, n, n);
        assert!(one.len() > 900_000, "{rule:?}: {}", one.len());
        assert_eq!(one, build_in_pool(2, &rule, n, n), "{rule:?}");
        if matches!(rule, ConnectRule::FixedIndegree { .. }) {
            assert_eq!(one, build_in_pool(3, &rule, n, n), "{rule:?}");
        }
    }
}

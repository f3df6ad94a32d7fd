//! Connection rules: which pre neuron connects to which post neuron.
//!
//! Rules build a [`Connectivity`] (CSR by pre neuron) in canonical synapse order: by pre
//! index, then post index. Random rules draw row `i` from the stream
//! `(seed, "<projection>.connectivity", i)`, so the result depends on the seed and the
//! projection's name only — not on the thread count, which only decides how rows are split
//! into chunks built in parallel and concatenated in row order.
//!
//! `fixed_probability` draws the gaps between successive targets from the geometric
//! distribution (`RngStream::geometric_skip`), so building costs O(synapses), not
//! O(pre × post): a 4000 × 4000 projection at p = 0.02 makes 320 000 draws, not 16 million.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::projection::Connectivity;
use crate::rng::StreamFamily;

/// A connection rule (SCENARIO.md `connectivity`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectRule {
    /// Every pre neuron to every post neuron (without i → i when `autapses` is false and pre
    /// and post are the same population).
    AllToAll {
        /// Allow i → i when pre = post.
        autapses: bool,
    },
    /// Pre neuron i to post neuron i; sizes must match. On a population projecting to
    /// itself this is exactly the set of autapses.
    OneToOne,
    /// Each (pre, post) pair independently with probability `p`.
    FixedProbability {
        /// Connection probability, in [0, 1].
        p: f64,
        /// Allow i → i when pre = post.
        autapses: bool,
    },
}

/// Why a rule cannot be applied.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConnectError {
    /// `one_to_one` between populations of different sizes.
    #[error("one_to_one needs equal sizes, got pre {pre} and post {post}")]
    SizeMismatch {
        /// Pre size.
        pre: u32,
        /// Post size.
        post: u32,
    },
    /// A probability outside [0, 1] or not finite.
    #[error("expected a probability in [0, 1], got {0}")]
    BadProbability(f64),
    /// More than 2³² − 1 targets would not fit the CSR offsets' contract.
    #[error("the projection would have {0} synapses, more than this build supports")]
    TooLarge(u128),
}

/// Rows per parallel chunk when building.
const ROWS_PER_CHUNK: usize = 256;

impl ConnectRule {
    /// Checks the rule's own parameters and its compatibility with the sizes.
    pub fn check(&self, pre: u32, post: u32) -> Result<(), ConnectError> {
        match self {
            ConnectRule::OneToOne if pre != post => Err(ConnectError::SizeMismatch { pre, post }),
            ConnectRule::FixedProbability { p, .. } if !(0.0..=1.0).contains(p) => {
                Err(ConnectError::BadProbability(*p))
            }
            _ => Ok(()),
        }
    }

    /// Builds the synapses from `pre` to `post` neurons; `same_population` says whether pre
    /// and post are one population (where autapses i → i are meaningful).
    pub fn build(
        &self,
        pre: u32,
        post: u32,
        same_population: bool,
        seed: u64,
        projection_name: &str,
    ) -> Result<Connectivity, ConnectError> {
        self.check(pre, post)?;
        let (pre_n, post_n) = (pre as usize, post as usize);
        match *self {
            ConnectRule::OneToOne => Ok(Connectivity::from_csr(
                (0..=pre_n).collect(),
                (0..pre).collect(),
            )),
            ConnectRule::AllToAll { autapses } => {
                let skip_self = same_population && !autapses;
                let total = pre_n as u128 * post_n as u128;
                if total > usize::MAX as u128 / 8 {
                    return Err(ConnectError::TooLarge(total));
                }
                build_rows(pre_n, |i, row| {
                    row.extend((0..post).filter(|&j| !(skip_self && j as usize == i)));
                })
            }
            ConnectRule::FixedProbability { p, autapses } => {
                let skip_self = same_population && !autapses;
                let family = StreamFamily::new(seed, &format!("{projection_name}.connectivity"));
                let ln_q = (1.0 - p).ln();
                if p == 0.0 {
                    return Ok(Connectivity::from_csr(vec![0; pre_n + 1], Vec::new()));
                }
                build_rows(pre_n, |i, row| {
                    let mut s = family.stream(i as u64);
                    let mut j = s.geometric_skip(ln_q);
                    while j < post_n as u64 {
                        if !(skip_self && j as usize == i) {
                            row.push(j as u32);
                        }
                        j = j.saturating_add(1).saturating_add(s.geometric_skip(ln_q));
                    }
                })
            }
        }
    }
}

/// Builds CSR rows in parallel chunks (each chunk's rows in order, chunks concatenated in
/// order): deterministic whatever the thread count.
fn build_rows(
    pre: usize,
    fill_row: impl Fn(usize, &mut Vec<u32>) + Sync,
) -> Result<Connectivity, ConnectError> {
    let chunks: Vec<(Vec<usize>, Vec<u32>)> = (0..pre.div_ceil(ROWS_PER_CHUNK))
        .into_par_iter()
        .map(|c| {
            let rows = c * ROWS_PER_CHUNK..((c + 1) * ROWS_PER_CHUNK).min(pre);
            let mut lens = Vec::with_capacity(rows.len());
            let mut targets = Vec::new();
            for i in rows {
                let before = targets.len();
                fill_row(i, &mut targets);
                lens.push(targets.len() - before);
            }
            (lens, targets)
        })
        .collect();
    let total: usize = chunks.iter().map(|(_, t)| t.len()).sum();
    let mut offsets = Vec::with_capacity(pre + 1);
    let mut targets = Vec::with_capacity(total);
    offsets.push(0);
    for (lens, t) in chunks {
        for l in lens {
            let last = *offsets.last().expect("non-empty");
            offsets.push(last + l);
        }
        targets.extend_from_slice(&t);
    }
    Ok(Connectivity::from_csr(offsets, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_to_all_without_autapses_skips_diagonal() {
        let c = ConnectRule::AllToAll { autapses: false }
            .build(3, 3, true, 0, "p")
            .unwrap();
        assert_eq!(c.len(), 6);
        assert_eq!(c.row(1), &[0, 2]);
        let c = ConnectRule::AllToAll { autapses: false }
            .build(3, 3, false, 0, "p")
            .unwrap();
        assert_eq!(c.len(), 9);
    }

    #[test]
    fn one_to_one_needs_equal_sizes() {
        let c = ConnectRule::OneToOne.build(4, 4, false, 0, "p").unwrap();
        assert_eq!(c.targets(), &[0, 1, 2, 3]);
        assert_eq!(
            ConnectRule::OneToOne.build(4, 5, false, 0, "p"),
            Err(ConnectError::SizeMismatch { pre: 4, post: 5 })
        );
    }

    #[test]
    fn fixed_probability_count_within_4_sigma_and_rows_sorted() {
        let (pre, post, p) = (2000u32, 3000u32, 0.02);
        let c = ConnectRule::FixedProbability { p, autapses: true }
            .build(pre, post, false, 42, "a_to_b")
            .unwrap();
        let n = pre as f64 * post as f64;
        let sd = (n * p * (1.0 - p)).sqrt();
        assert!((c.len() as f64 - n * p).abs() < 4.0 * sd, "{}", c.len());
        for i in 0..pre as usize {
            assert!(c.row(i).windows(2).all(|w| w[0] < w[1]));
            assert!(c.row(i).iter().all(|&j| j < post));
        }
    }

    #[test]
    fn fixed_probability_is_deterministic_and_name_dependent() {
        let rule = ConnectRule::FixedProbability {
            p: 0.1,
            autapses: false,
        };
        let a = rule.build(500, 500, true, 1, "x").unwrap();
        let b = rule.build(500, 500, true, 1, "x").unwrap();
        let c = rule.build(500, 500, true, 1, "y").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!((0..500).all(|i| !a.row(i).contains(&(i as u32))));
    }

    #[test]
    fn probability_edges() {
        let one = ConnectRule::FixedProbability {
            p: 1.0,
            autapses: true,
        }
        .build(5, 7, false, 0, "z")
        .unwrap();
        assert_eq!(one.len(), 35);
        let zero = ConnectRule::FixedProbability {
            p: 0.0,
            autapses: true,
        }
        .build(5, 7, false, 0, "z")
        .unwrap();
        assert_eq!(zero.len(), 0);
        assert!(
            ConnectRule::FixedProbability {
                p: 1.5,
                autapses: true
            }
            .check(1, 1)
            .is_err()
        );
    }
}

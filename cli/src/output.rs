//! Run outputs exactly as SCENARIO.md specifies: `spikes.csv`, `traces.csv`,
//! `summary.json`.
//!
//! Times are written as `step × Δt` rounded to f32 and printed with the shortest decimal that
//! round-trips that f32, so `0.30000000000000004` never appears and files are identical on
//! every machine.

use std::io::{self, Write};

use ember_engine::{SpikeEvent, TraceRecorder};
use serde_json::json;

/// One population's spikes, for writing.
pub struct PopulationSpikes<'a> {
    /// Population name.
    pub name: &'a str,
    /// Its recorded spikes (step, batch, neuron order).
    pub events: &'a [SpikeEvent],
}

/// A time in ms as written to files: `step × Δt` as the nearest f32.
pub fn time_of(step: u64, step_time: f64) -> f32 {
    (step as f64 * step_time) as f32
}

/// Writes `spikes.csv`: header `population,neuron,batch,step,time`, rows sorted by step, then
/// population (declaration order, the order of `pops`), batch, neuron.
pub fn write_spikes_csv(
    out: &mut impl Write,
    pops: &[PopulationSpikes<'_>],
    step_time: f64,
) -> io::Result<()> {
    writeln!(out, "population,neuron,batch,step,time")?;
    // Each population's events are already sorted by (step, batch, neuron): a k-way merge
    // on step yields the global order without sorting.
    let mut cursors = vec![0usize; pops.len()];
    let (mut row, mut suffix) = (Vec::with_capacity(64), Vec::with_capacity(32));
    loop {
        let next_step = pops
            .iter()
            .zip(&cursors)
            .filter_map(|(p, &c)| p.events.get(c).map(|e| e.step))
            .min();
        let Some(step) = next_step else {
            break;
        };
        // The `,step,time` suffix is shared by every row of the step: format it once.
        suffix.clear();
        suffix.push(b',');
        push_decimal(&mut suffix, step);
        suffix.push(b',');
        suffix.extend_from_slice(time_of(step, step_time).to_string().as_bytes());
        suffix.push(b'\n');
        for (p, c) in pops.iter().zip(cursors.iter_mut()) {
            while let Some(e) = p.events.get(*c).filter(|e| e.step == step) {
                row.clear();
                row.extend_from_slice(p.name.as_bytes());
                row.push(b',');
                push_decimal(&mut row, u64::from(e.neuron));
                row.push(b',');
                push_decimal(&mut row, u64::from(e.batch));
                row.extend_from_slice(&suffix);
                out.write_all(&row)?;
                *c += 1;
            }
        }
    }
    Ok(())
}

/// Appends the decimal digits of `n` (what `write!(.., "{n}")` gives, without the
/// formatting machinery: spikes.csv has a row per spike).
fn push_decimal(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// One trace recorder's data, for writing.
pub struct TraceTable<'a> {
    /// Population name.
    pub target: &'a str,
    /// Batch copies.
    pub batch: usize,
    /// The recorder.
    pub recorder: &'a TraceRecorder,
}

/// Writes `traces.csv`: header `target,variable,index,batch,step,time,value`; for each
/// recorder (in `[[record]]` order) rows by step, then variable, batch, neuron.
pub fn write_traces_csv(
    out: &mut impl Write,
    tables: &[TraceTable<'_>],
    step_time: f64,
) -> io::Result<()> {
    writeln!(out, "target,variable,index,batch,step,time,value")?;
    for t in tables {
        let r = t.recorder;
        for (s, &step) in r.steps.iter().enumerate() {
            let time = time_of(step, step_time);
            for (vi, var) in r.variables.iter().enumerate() {
                for b in 0..t.batch {
                    for (k, &neuron) in r.neurons.iter().enumerate() {
                        let value = r.value(s, vi, b, k, t.batch);
                        writeln!(
                            out,
                            "{},{},{},{},{},{},{}",
                            t.target,
                            var.name(),
                            neuron,
                            b,
                            step,
                            time,
                            value
                        )?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// One population's line in `summary.json`.
#[derive(Clone, Debug)]
pub struct PopulationSummary {
    /// Name.
    pub name: String,
    /// Neurons.
    pub size: u32,
    /// Spikes over the whole run, all batch copies.
    pub spikes: u64,
}

/// Everything `summary.json` reports.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Steps run.
    pub steps: u64,
    /// Δt, ms.
    pub step_time: f64,
    /// Duration, ms.
    pub duration: f64,
    /// Seed.
    pub seed: u64,
    /// Batch copies.
    pub batch_size: u32,
    /// Populations in declaration order.
    pub populations: Vec<PopulationSummary>,
    /// Wall time of build + run, s.
    pub wall_seconds: f64,
    /// Compute threads.
    pub threads: usize,
}

impl Summary {
    /// Mean rate of a population, Hz: spikes / (size × batch × duration in s); 0 for a
    /// zero-length run.
    pub fn rate_hz(&self, p: &PopulationSummary) -> f64 {
        let denom = p.size as f64 * self.batch_size as f64 * self.duration / 1000.0;
        if denom > 0.0 {
            p.spikes as f64 / denom
        } else {
            0.0
        }
    }

    /// The JSON document (keys in SCENARIO.md's order, populations in declaration order).
    pub fn to_json(&self) -> serde_json::Value {
        let mut pops = serde_json::Map::new();
        for p in &self.populations {
            pops.insert(
                p.name.clone(),
                json!({ "size": p.size, "spikes": p.spikes, "rate_hz": self.rate_hz(p) }),
            );
        }
        json!({
            "steps": self.steps,
            "step_time": self.step_time,
            "duration": self.duration,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "populations": pops,
            "wall_seconds": self.wall_seconds,
            "threads": self.threads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(step: u64, neuron: u32) -> SpikeEvent {
        SpikeEvent {
            step,
            batch: 0,
            neuron,
        }
    }

    #[test]
    fn spikes_are_merged_by_step_then_population() {
        let a = [ev(0, 3), ev(2, 1), ev(2, 5)];
        let b = [ev(1, 0), ev(2, 0)];
        let mut out = Vec::new();
        write_spikes_csv(
            &mut out,
            &[
                PopulationSpikes {
                    name: "a",
                    events: &a,
                },
                PopulationSpikes {
                    name: "b",
                    events: &b,
                },
            ],
            0.1,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "population,neuron,batch,step,time\na,3,0,0,0\nb,0,0,1,0.1\na,1,0,2,0.2\na,5,0,2,0.2\nb,0,0,2,0.2\n"
        );
    }

    #[test]
    fn decimals_match_display() {
        for n in [0u64, 7, 10, 99, 12345, u64::from(u32::MAX), u64::MAX] {
            let mut b = Vec::new();
            push_decimal(&mut b, n);
            assert_eq!(String::from_utf8(b).unwrap(), n.to_string());
        }
    }

    #[test]
    fn times_round_trip_as_f32() {
        assert_eq!(time_of(3, 0.1).to_string(), "0.3");
        assert_eq!(time_of(9999, 0.1).to_string(), "999.9");
    }

    #[test]
    fn rate_is_spikes_per_neuron_second() {
        let s = Summary {
            steps: 10,
            step_time: 0.1,
            duration: 1000.0,
            seed: 0,
            batch_size: 2,
            populations: vec![],
            wall_seconds: 0.0,
            threads: 1,
        };
        let p = PopulationSummary {
            name: "x".into(),
            size: 10,
            spikes: 100,
        };
        assert_eq!(s.rate_hz(&p), 5.0);
    }
}

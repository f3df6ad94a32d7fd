//! Run outputs exactly as SCENARIO.md specifies: `spikes.csv`, `traces.csv`,
//! `summary.json`, and with `--format npy` also `spikes.npy` and `traces.npy`.
//!
//! Times are written as `step × Δt` rounded to f32 and printed with the shortest decimal that
//! round-trips that f32, so `0.30000000000000004` never appears and files are identical on
//! every machine.

use std::io::{self, Write};

use ember_engine::{SpikeEvent, TraceRecorder};
use serde_json::json;

use crate::npy::{self, Field};

/// One population's spikes, for writing.
pub struct PopulationSpikes<'a> {
    /// Population name.
    pub name: &'a str,
    /// The population's declaration index in the scenario (its position in `summary.json`'s
    /// `populations`), written to `spikes.npy`.
    pub index: u32,
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
    /// The population's declaration index in the scenario, written to `traces.npy`.
    pub target_index: u32,
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

/// The record of `spikes.npy`: one per spike, in the order of `spikes.csv`.
///
/// `population` is the population's declaration index in the scenario (the order of
/// `[[population]]` tables and of `summary.json`'s `populations`); `time` is `step × Δt` in ms
/// as the nearest f32 (the value `spikes.csv` prints).
pub fn spikes_npy_fields() -> Vec<Field> {
    vec![
        Field::new("population", "<u4"),
        Field::new("neuron", "<u4"),
        Field::new("batch", "<u4"),
        Field::new("step", "<u8"),
        Field::new("time", "<f4"),
    ]
}

/// Writes `spikes.npy`: a NumPy structured array of [`spikes_npy_fields`] records, one per
/// spike, in the order of `spikes.csv` (step, then population, batch, neuron).
pub fn write_spikes_npy(
    out: &mut impl Write,
    pops: &[PopulationSpikes<'_>],
    step_time: f64,
) -> io::Result<()> {
    let len = pops.iter().map(|p| p.events.len() as u64).sum();
    npy::write_header(out, &spikes_npy_fields(), len)?;
    let mut cursors = vec![0usize; pops.len()];
    let mut record = [0u8; 24];
    while let Some(step) = pops
        .iter()
        .zip(&cursors)
        .filter_map(|(p, &c)| p.events.get(c).map(|e| e.step))
        .min()
    {
        let time = time_of(step, step_time);
        for (p, c) in pops.iter().zip(cursors.iter_mut()) {
            while let Some(e) = p.events.get(*c).filter(|e| e.step == step) {
                record[0..4].copy_from_slice(&p.index.to_le_bytes());
                record[4..8].copy_from_slice(&e.neuron.to_le_bytes());
                record[8..12].copy_from_slice(&e.batch.to_le_bytes());
                record[12..20].copy_from_slice(&step.to_le_bytes());
                record[20..24].copy_from_slice(&time.to_le_bytes());
                out.write_all(&record)?;
                *c += 1;
            }
        }
    }
    Ok(())
}

/// The shortest width of the `variable` field of `traces.npy`.
pub const TRACE_VARIABLE_WIDTH: usize = 16;

/// The record of `traces.npy` for `tables`: one per row of `traces.csv`, same order.
///
/// `target` is the population's declaration index (as in `spikes.npy`); `variable` is the
/// variable's name (`voltage`, `adaptation0`, …) as a fixed-width unicode string of
/// [`TRACE_VARIABLE_WIDTH`] characters (wider only if a name is longer); `index` is the
/// neuron; `time` and `value` are f32.
pub fn traces_npy_fields(tables: &[TraceTable<'_>]) -> Vec<Field> {
    let width = tables
        .iter()
        .flat_map(|t| &t.recorder.variables)
        .map(|v| v.name().chars().count())
        .fold(TRACE_VARIABLE_WIDTH, usize::max);
    vec![
        Field::new("target", "<u4"),
        Field::new("variable", format!("<U{width}")),
        Field::new("index", "<u4"),
        Field::new("batch", "<u4"),
        Field::new("step", "<u8"),
        Field::new("time", "<f4"),
        Field::new("value", "<f4"),
    ]
}

/// One projection trace row (`traces.csv` rows after the population tables).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProjectionTraceRow<'a> {
    /// The projection's name.
    pub target: &'a str,
    /// The projection's index in `traces.npy`'s `target` numbering: the number of
    /// populations plus its declaration index.
    pub target_index: u32,
    /// `current` or `weight`.
    pub variable: &'a str,
    /// Post neuron (`current`) or canonical synapse index (`weight`).
    pub index: u32,
    /// Batch copy.
    pub batch: u32,
    /// Step.
    pub step: u64,
    /// The value (nA for `current`, the weight's unit for `weight`).
    pub value: f32,
}

/// Appends the rows of projection records to `traces.csv`, after the population rows:
/// target = the projection's name, variable `current` (index = post neuron) or `weight`
/// (index = canonical synapse index), in each record's step, variable, batch, index order.
pub fn write_projection_traces_csv(
    out: &mut impl Write,
    rows: &[ProjectionTraceRow<'_>],
    step_time: f64,
) -> io::Result<()> {
    for row in rows {
        writeln!(
            out,
            "{},{},{},{},{},{},{}",
            row.target,
            row.variable,
            row.index,
            row.batch,
            row.step,
            time_of(row.step, step_time),
            row.value
        )?;
    }
    Ok(())
}

/// Writes `traces.npy`: a NumPy structured array of [`traces_npy_fields`] records, one per
/// row of `traces.csv`, in the same order: the population tables, then `projection_rows`.
pub fn write_traces_npy(
    out: &mut impl Write,
    tables: &[TraceTable<'_>],
    projection_rows: &[ProjectionTraceRow<'_>],
    step_time: f64,
) -> io::Result<()> {
    let fields = traces_npy_fields(tables);
    let width = (fields[1].size()) / 4;
    let len = tables
        .iter()
        .map(|t| {
            let r = t.recorder;
            (r.steps.len() * r.variables.len() * t.batch * r.neurons.len()) as u64
        })
        .sum::<u64>()
        + projection_rows.len() as u64;
    npy::write_header(out, &fields, len)?;
    let mut record = Vec::with_capacity(npy::record_size(&fields));
    for t in tables {
        let r = t.recorder;
        let names: Vec<Vec<u8>> = r
            .variables
            .iter()
            .map(|v| {
                let mut b = Vec::with_capacity(4 * width);
                npy::push_unicode(&mut b, &v.name(), width);
                b
            })
            .collect();
        for (s, &step) in r.steps.iter().enumerate() {
            let time = time_of(step, step_time);
            for (vi, name) in names.iter().enumerate() {
                for b in 0..t.batch {
                    for (k, &neuron) in r.neurons.iter().enumerate() {
                        record.clear();
                        record.extend_from_slice(&t.target_index.to_le_bytes());
                        record.extend_from_slice(name);
                        record.extend_from_slice(&neuron.to_le_bytes());
                        record.extend_from_slice(&(b as u32).to_le_bytes());
                        record.extend_from_slice(&step.to_le_bytes());
                        record.extend_from_slice(&time.to_le_bytes());
                        record.extend_from_slice(&r.value(s, vi, b, k, t.batch).to_le_bytes());
                        out.write_all(&record)?;
                    }
                }
            }
        }
    }
    for row in projection_rows {
        record.clear();
        record.extend_from_slice(&row.target_index.to_le_bytes());
        npy::push_unicode(&mut record, row.variable, width);
        record.extend_from_slice(&row.index.to_le_bytes());
        record.extend_from_slice(&row.batch.to_le_bytes());
        record.extend_from_slice(&row.step.to_le_bytes());
        record.extend_from_slice(&time_of(row.step, step_time).to_le_bytes());
        record.extend_from_slice(&row.value.to_le_bytes());
        out.write_all(&record)?;
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
                    index: 0,
                    events: &a,
                },
                PopulationSpikes {
                    name: "b",
                    index: 1,
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
    fn spikes_npy_records_follow_the_csv_order() {
        let a = [ev(2, 3)];
        let b = [ev(1, 7)];
        let pops = [
            PopulationSpikes {
                name: "a",
                index: 0,
                events: &a,
            },
            PopulationSpikes {
                name: "b",
                index: 5,
                events: &b,
            },
        ];
        let mut out = Vec::new();
        write_spikes_npy(&mut out, &pops, 0.1).unwrap();
        let header = npy::header(&spikes_npy_fields(), 2);
        assert_eq!(&out[..header.len()], &header[..]);
        let data = &out[header.len()..];
        assert_eq!(data.len(), 2 * npy::record_size(&spikes_npy_fields()));
        // b's spike (step 1) first: population 5, neuron 7, batch 0, step 1, time 0.1.
        let mut first = Vec::new();
        for v in [5u32, 7, 0] {
            first.extend_from_slice(&v.to_le_bytes());
        }
        first.extend_from_slice(&1u64.to_le_bytes());
        first.extend_from_slice(&0.1f32.to_le_bytes());
        assert_eq!(&data[..24], &first[..]);
        assert_eq!(&data[24..28], &0u32.to_le_bytes());
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

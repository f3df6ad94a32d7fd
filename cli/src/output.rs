//! Run outputs exactly as SCENARIO.md specifies: `spikes.csv`, `traces.csv`,
//! `summary.json`, and with `--format npy` also `spikes.npy` and `traces.npy`.
//!
//! Times are written as `step × Δt` rounded to f32 and printed with the shortest decimal that
//! round-trips that f32, so `0.30000000000000004` never appears and files are identical on
//! every machine.

use std::io::{self, Write};

use ember_engine::{SpikeRecorder, SpikeRun, TraceRecorder};
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
    pub spikes: &'a SpikeRecorder,
}

/// Each population's runs of spikes, merged by step: calls `each(population, run,
/// neurons, first)` in step order, then population order (the order of `pops`), then
/// batch; `first` is true for the first run of each step.
fn merge_by_step<E>(
    pops: &[PopulationSpikes<'_>],
    mut each: impl FnMut(usize, SpikeRun, &[u32], bool) -> Result<(), E>,
) -> Result<(), E> {
    // Each population's runs are already sorted by (step, batch): a k-way merge on step
    // yields the global order without sorting.
    let mut cursors: Vec<_> = pops.iter().map(|p| p.spikes.runs().peekable()).collect();
    while let Some(step) = cursors
        .iter_mut()
        .filter_map(|c| c.peek().map(|(run, _)| run.step))
        .min()
    {
        let mut first = true;
        for (k, c) in cursors.iter_mut().enumerate() {
            while let Some((run, neurons)) = c.next_if(|(run, _)| run.step == step) {
                each(k, run, neurons, first)?;
                first = false;
            }
        }
    }
    Ok(())
}

/// A time in ms as written to files: `step × Δt` as the nearest f32.
pub fn time_of(step: u64, step_time: f64) -> f32 {
    (step as f64 * step_time) as f32
}

/// Writes `spikes.csv`: header `population,neuron,batch,step,time`, rows sorted by step, then
/// population (declaration order, the order of `pops`), batch, neuron.
///
/// A run can have millions of rows, so each is assembled in a buffer with fixed-size copies
/// of its population's `name,` and its step's `,step,time` (formatted once per step,
/// `TimeText`) rather than through `write!`.
pub fn write_spikes_csv(
    out: &mut impl Write,
    pops: &[PopulationSpikes<'_>],
    step_time: f64,
) -> io::Result<()> {
    writeln!(out, "population,neuron,batch,step,time")?;
    let times = TimeText::new(step_time);
    let mut prefixes: Vec<Vec<u8>> = pops.iter().map(|p| [p.name, ","].concat().into()).collect();
    let prefixes: Vec<Padded<'_, PREFIX>> = prefixes.iter_mut().map(Padded::new_in).collect();
    let mut rows = RowBuffer::new();
    let mut text = Vec::with_capacity(SUFFIX);
    let mut suffix_len = 0;
    merge_by_step(pops, |k, run, neurons, first| -> io::Result<()> {
        if first {
            // The `,step,time` suffix is shared by every row of the step: format it once.
            text.clear();
            text.push(b',');
            push_decimal(&mut text, run.step);
            text.push(b',');
            times.push(&mut text, run.step);
            text.push(b'\n');
            suffix_len = Padded::<SUFFIX>::pad(&mut text);
        }
        let suffix = Padded::<SUFFIX> {
            bytes: &text,
            len: suffix_len,
        };
        for &neuron in neurons {
            rows.push(out, &prefixes[k], neuron, run.batch, &suffix)?;
        }
        Ok(())
    })?;
    rows.flush(out)
}

/// Longest population name (plus the comma) copied with one fixed-size move.
const PREFIX: usize = 32;
/// Longest `,step,time\n` copied with one fixed-size move.
const SUFFIX: usize = 64;

/// A piece of a row of at most `N` bytes followed by zeros up to `N`, so it is copied with
/// one fixed-size move (and its length added); a longer one is copied by length.
struct Padded<'a, const N: usize> {
    bytes: &'a [u8],
    len: usize,
}

impl<'a, const N: usize> Padded<'a, N> {
    /// `text`, zero-padded to `N` bytes here if shorter.
    fn new_in(text: &'a mut Vec<u8>) -> Self {
        let len = Self::pad(text);
        Self { bytes: text, len }
    }

    /// Zero-pads `text` to `N` bytes if shorter; returns its length before.
    fn pad(text: &mut Vec<u8>) -> usize {
        let len = text.len();
        if len < N {
            text.resize(N, 0);
        }
        len
    }

    /// Writes the piece at `buf[at..]` (which has room for `N` bytes or the whole piece)
    /// and returns its length.
    #[inline(always)]
    fn put(&self, buf: &mut [u8], at: usize) -> usize {
        if self.len <= N {
            buf[at..at + N].copy_from_slice(&self.bytes[..N]);
        } else {
            buf[at..at + self.len].copy_from_slice(self.bytes);
        }
        self.len
    }

    /// The room [`Padded::put`] needs.
    fn room(&self) -> usize {
        self.len.max(N)
    }
}

/// Rows of `spikes.csv` gathered in a 64 KiB buffer and written out when it fills.
struct RowBuffer {
    buf: Vec<u8>,
    at: usize,
}

/// Bytes written out at a time.
const ROW_BUFFER: usize = 1 << 16;

impl RowBuffer {
    fn new() -> Self {
        Self {
            buf: vec![0; ROW_BUFFER],
            at: 0,
        }
    }

    /// Appends `prefix` `neuron` `,` `batch` `suffix`.
    #[inline]
    fn push(
        &mut self,
        out: &mut impl Write,
        prefix: &Padded<'_, PREFIX>,
        neuron: u32,
        batch: u32,
        suffix: &Padded<'_, SUFFIX>,
    ) -> io::Result<()> {
        // Room for the padded pieces and two 10-digit numbers.
        let room = prefix.room() + 10 + 1 + 10 + suffix.room();
        if self.at + room > self.buf.len() {
            self.flush(out)?;
            if room > self.buf.len() {
                self.buf.resize(room, 0);
            }
        }
        let (buf, mut at) = (&mut self.buf[..], self.at);
        at += prefix.put(buf, at);
        at += put_decimal(buf, at, neuron);
        buf[at] = b',';
        at += 1;
        at += put_decimal(buf, at, batch);
        at += suffix.put(buf, at);
        self.at = at;
        Ok(())
    }

    fn flush(&mut self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&self.buf[..self.at])?;
        self.at = 0;
        Ok(())
    }
}

/// Writes the decimal digits of `n` at `buf[at..]` (room for 10) and returns how many.
#[inline(always)]
fn put_decimal(buf: &mut [u8], at: usize, mut n: u32) -> usize {
    let digits = n.checked_ilog10().unwrap_or(0) as usize + 1;
    let out = &mut buf[at..at + digits];
    for d in out.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    digits
}

/// Appends the decimal digits of `n` (what `write!(.., "{n}")` gives, without the
/// formatting machinery).
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

/// The text of the times [`time_of`] gives for a step time: exactly what `{}` prints for
/// the f32 (the shortest decimal that parses back to it), and, when Δt is a short decimal
/// `m·10⁻ᵏ`, found without the float formatter: `step·m·10⁻ᵏ` written out is that shortest
/// decimal whenever its nearest f32 is the time and the f32's spacing there is below
/// `10⁻ᵏ` (then no other decimal with at most as many digits rounds to it). Otherwise, and
/// for anything else, the formatter's text.
struct TimeText {
    step_time: f64,
    /// `(m, k)` with `Δt = m·10⁻ᵏ`, if Δt has at most 10 digits and `k ≤ 8`.
    decimal: Option<(u64, u32)>,
    /// `10⁻ᵏ`.
    resolution: f64,
    /// `10ᵏ`.
    scale: f64,
}

impl TimeText {
    fn new(step_time: f64) -> Self {
        let text = step_time.to_string();
        let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
        let digits = format!("{int}{frac}");
        let decimal = (digits.len() <= 10 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse::<u64>().ok())
            .flatten()
            .filter(|&m| m > 0 && frac.len() <= 8)
            .map(|m| (m, frac.len() as u32));
        let k = decimal.map_or(0, |(_, k)| k as i32);
        Self {
            step_time,
            decimal,
            resolution: 10f64.powi(-k),
            scale: 10f64.powi(k),
        }
    }

    /// Appends the time of `step`, ms.
    fn push(&self, buf: &mut Vec<u8>, step: u64) {
        let t = time_of(step, self.step_time);
        if let Some((m, k)) = self.decimal
            && let Some(v) = step.checked_mul(m)
        {
            // `c = v·10⁻ᵏ` is what `{}` prints if the nearest f32 to `c` is `t` and no other
            // decimal with at most k decimals rounds to `t` (spacing below 10⁻ᵏ). With
            // `v < 2⁵³` and `10ᵏ` exact, `v / 10ᵏ` is `c` correctly rounded to f64, and
            // rounding that to f32 gives `c`'s nearest f32: `c` lies at least
            // `2⁻²⁴·10⁻ᵏ ≥ 2⁻⁵¹` (relative, k ≤ 8) from any f32 rounding boundary it is not
            // on, and it is on none (a decimal with ≤ k decimals on a boundary of an f32
            // spacing below 10⁻ᵏ would need a finer binary expansion than it has).
            let spacing = f32::from_bits(t.to_bits() + 1) - t;
            let unique = f64::from(spacing) < self.resolution;
            let nearest = v < (1 << 53) && ((v as f64 / self.scale) as f32) == t;
            if t.is_finite() && unique && nearest {
                push_scaled(buf, v, k);
                return;
            }
        }
        let _ = write!(buf, "{t}");
    }
}

/// Appends `v·10⁻ᵏ` in plain decimal with no trailing fractional zeros (`1364, 1` →
/// `136.4`, `8000, 1` → `800`, `5, 2` → `0.05`).
fn push_scaled(buf: &mut Vec<u8>, v: u64, k: u32) {
    let pow = 10u64.pow(k);
    push_decimal(buf, v / pow);
    let mut frac = v % pow;
    if frac == 0 {
        return;
    }
    let mut width = k;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    buf.push(b'.');
    let start = buf.len();
    push_decimal(buf, frac);
    let missing = width as usize - (buf.len() - start);
    buf.splice(start..start, std::iter::repeat_n(b'0', missing));
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
    let len = pops.iter().map(|p| p.spikes.len() as u64).sum();
    npy::write_header(out, &spikes_npy_fields(), len)?;
    let mut record = [0u8; 24];
    merge_by_step(pops, |k, run, neurons, _| -> io::Result<()> {
        let time = time_of(run.step, step_time);
        record[0..4].copy_from_slice(&pops[k].index.to_le_bytes());
        record[8..12].copy_from_slice(&run.batch.to_le_bytes());
        record[12..20].copy_from_slice(&run.step.to_le_bytes());
        record[20..24].copy_from_slice(&time.to_le_bytes());
        for &neuron in neurons {
            record[4..8].copy_from_slice(&neuron.to_le_bytes());
            out.write_all(&record)?;
        }
        Ok(())
    })
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
    use ember_engine::SpikeEvent;
    use ember_engine::bevy_ecs::entity::Entity;

    /// A recorder holding `events` (in recording order).
    fn recorder(events: &[SpikeEvent]) -> SpikeRecorder {
        let mut r = SpikeRecorder::with_capacity(Entity::PLACEHOLDER, events.len());
        for &e in events {
            r.push(e);
        }
        r
    }

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
                    spikes: &recorder(&a),
                },
                PopulationSpikes {
                    name: "b",
                    index: 1,
                    spikes: &recorder(&b),
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
                spikes: &recorder(&a),
            },
            PopulationSpikes {
                name: "b",
                index: 5,
                spikes: &recorder(&b),
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

    /// Times as `{}` prints them, for Δt of every usual kind (short decimals, binary
    /// fractions, values with long expansions) over the steps of long runs, including where
    /// the f32 spacing exceeds Δt and the fast path must step aside.
    #[test]
    fn time_text_is_what_display_prints() {
        let dts = [
            0.1,
            0.01,
            0.05,
            0.025,
            0.125,
            1.0,
            0.5,
            0.2,
            2.5,
            0.3,
            1e-4,
            0.1 + 0.2,
            1.0 / 3.0,
            0.123456789,
            7.0,
        ];
        let steps = (0..20_000u64)
            .chain((0..2000).map(|i| 1_000_000 + 997 * i))
            .chain((0..200).map(|i| (1u64 << 24) + 12_345 * i))
            .chain([u64::MAX / 7, u64::MAX]);
        let steps: Vec<u64> = steps.collect();
        let mut fast = 0;
        for dt in dts {
            let text = TimeText::new(dt);
            let mut buf = Vec::new();
            for &step in &steps {
                buf.clear();
                text.push(&mut buf, step);
                let expected = time_of(step, dt).to_string();
                assert_eq!(
                    String::from_utf8_lossy(&buf),
                    expected,
                    "dt {dt}, step {step}"
                );
            }
            fast += usize::from(text.decimal.is_some());
        }
        // Random steps over a wide range, for Δt with 1 to 8 decimals.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for dt in [0.1, 0.025, 0.001, 0.0625, 0.00125, 1e-8] {
            let text = TimeText::new(dt);
            assert!(text.decimal.is_some(), "{dt}");
            let mut buf = Vec::new();
            for _ in 0..50_000 {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let step = (x >> 24) >> (x % 24);
                buf.clear();
                text.push(&mut buf, step);
                let expected = time_of(step, dt).to_string();
                assert_eq!(
                    String::from_utf8_lossy(&buf),
                    expected,
                    "dt {dt}, step {step}"
                );
            }
        }
        // Not vacuous: the short decimals take the fast path.
        assert!(fast >= 10, "{fast}");
        assert_eq!(TimeText::new(0.1).decimal, Some((1, 1)));
        assert_eq!(TimeText::new(2.5).decimal, Some((25, 1)));
    }

    #[test]
    fn scaled_integers_are_written_without_trailing_zeros() {
        let cases = [((1364, 1), "136.4"), ((8000, 1), "800"), ((5, 2), "0.05")];
        for ((v, k), text) in cases.into_iter().chain([((120, 3), "0.12"), ((0, 4), "0")]) {
            let mut b = Vec::new();
            push_scaled(&mut b, v, k);
            assert_eq!(String::from_utf8(b).unwrap(), text);
        }
    }

    /// The row buffer against `format!` per row: long names and times (copied by length),
    /// large neuron and batch numbers, and more rows than one buffer holds.
    #[test]
    fn spike_rows_match_plain_formatting() {
        let long_name = "a_population_name_longer_than_thirty_two_bytes";
        let events_a: Vec<SpikeEvent> = (0..5000u64)
            .map(|i| SpikeEvent {
                step: i * 3,
                batch: (i % 3) as u32,
                neuron: u32::MAX - i as u32,
            })
            .collect();
        let events_b: Vec<SpikeEvent> = (0..3000u64)
            .map(|i| SpikeEvent {
                step: i * 5 + (1 << 60),
                batch: 0,
                neuron: i as u32,
            })
            .collect();
        let pops = [
            PopulationSpikes {
                name: long_name,
                index: 0,
                spikes: &recorder(&events_a),
            },
            PopulationSpikes {
                name: "b",
                index: 1,
                spikes: &recorder(&events_b),
            },
        ];
        let mut out = Vec::new();
        write_spikes_csv(&mut out, &pops, 0.1).unwrap();
        let mut expected = String::from("population,neuron,batch,step,time\n");
        for (name, e) in events_a
            .iter()
            .map(|e| (long_name, e))
            .chain(events_b.iter().map(|e| ("b", e)))
        {
            let time = time_of(e.step, 0.1);
            expected += &format!("{name},{},{},{},{time}\n", e.neuron, e.batch, e.step);
        }
        assert!(out.len() > 2 * ROW_BUFFER);
        assert_eq!(String::from_utf8(out).unwrap(), expected);
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

//! `ember run`: load a scenario, build the network, run it and write the outputs.
//!
//! Everything that can be wrong with the input is detected before the output directory is
//! created, so a bad scenario leaves nothing behind. Scenario files are read in the format
//! their extension names ([`Format`]: `.toml`, `.json`, `.ron`).

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ember_engine::scenario::Format;
use ember_engine::{
    BuildError, Population, Scenario, ScheduleError, SimConfig, Simulation, SpikeTotal,
};

use crate::output::{self, PopulationSpikes, PopulationSummary, Summary, TraceTable};
use crate::plot;
use crate::progress::{self, Progress};

/// The bundled CUBA scenario, run when no file is given.
pub const BUNDLED_CUBA: &str = include_str!("../../scenarios/cuba.toml");
/// The name shown for the bundled scenario in messages.
pub const BUNDLED_CUBA_NAME: &str = "scenarios/cuba.toml (bundled)";

/// Options of `ember run`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Output directory.
    pub out: PathBuf,
    /// Compute threads (0 = one per core).
    pub threads: usize,
    /// Skip `raster.png` / `traces.png`.
    pub no_plot: bool,
}

/// The array files `ember run --format` writes besides the CSV files. The records of the
/// `.npy` files are [`output::spikes_npy_fields`] and [`output::traces_npy_fields`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// CSV only: spikes.csv and, when something is traced, traces.csv.
    #[default]
    Csv,
    /// The CSV files plus NumPy arrays spikes.npy and (when traced) traces.npy.
    Npy,
}

/// Options of `ember run` beyond [`RunOptions`] (kept apart so that code building a
/// `RunOptions` keeps compiling). The default writes CSV only and shows no progress bar.
#[derive(Clone, Debug, Default)]
pub struct RunExtras {
    /// Which array files to write besides the CSV files.
    pub format: OutputFormat,
    /// Show a progress bar on stderr for runs longer than about a second (the binary passes
    /// [`Progress::wanted`]: stderr is a terminal and `CI` is unset).
    pub progress: bool,
    /// The process exits right after the run: leave the network's memory to the operating
    /// system instead of freeing it block by block (the `ember` binary; about 0.3 ms for
    /// CUBA 4 000, more for large networks). Never set this in a process that goes on.
    pub exiting: bool,
}

/// A failed run, by cause. Input errors (exit status 2) carry the file and field path.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The file could not be read.
    #[error("{file}: cannot read the file: {source}")]
    Read {
        /// File.
        file: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Unsupported file format.
    #[error("{file}: unsupported scenario format `{ext}`; expected a .toml, .json or .ron file")]
    Format {
        /// File.
        file: String,
        /// Extension found.
        ext: String,
    },
    /// The scenario does not parse.
    #[error("{file}: {source}")]
    Parse {
        /// File.
        file: String,
        /// Cause, with line, column and field path.
        source: Box<ember_engine::scenario::ParseError>,
    },
    /// The scenario is invalid.
    #[error("{file}: {source}")]
    Build {
        /// File.
        file: String,
        /// Cause, with field path.
        source: Box<BuildError>,
    },
    /// The step schedule is invalid (a bug or a conflicting user system).
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// Writing outputs failed.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// File or directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Rendering a plot failed.
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
}

impl RunError {
    /// True for errors in the user's input (exit status 2).
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            RunError::Read { .. }
                | RunError::Format { .. }
                | RunError::Parse { .. }
                | RunError::Build { .. }
        )
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct RunReport {
    /// The summary written to `summary.json`.
    pub summary: Summary,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Wall time of building the network (parse excluded), s: the part of
    /// `summary.wall_seconds` before the first step.
    pub build_seconds: f64,
    /// Wall time of running the steps, s: the rest of `summary.wall_seconds`.
    pub loop_seconds: f64,
}

/// Loads a scenario file in the format its extension names (`.toml`, `.json`, `.ron`).
pub fn load(file: &Path) -> Result<(String, Scenario), RunError> {
    let name = file.display().to_string();
    let Some(format) = Format::from_path(file) else {
        return Err(RunError::Format {
            file: name,
            ext: file
                .extension()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_default(),
        });
    };
    let text = fs::read_to_string(file).map_err(|source| RunError::Read {
        file: name.clone(),
        source,
    })?;
    let sc = parse_format(&name, &text, format)?;
    Ok((name, sc))
}

/// Parses TOML scenario text; errors name `file`.
pub fn parse(file: &str, text: &str) -> Result<Scenario, RunError> {
    parse_format(file, text, Format::Toml)
}

/// Parses scenario text in `format`; errors name `file`.
pub fn parse_format(file: &str, text: &str, format: Format) -> Result<Scenario, RunError> {
    Scenario::from_str_with_format(text, format).map_err(|source| RunError::Parse {
        file: file.to_owned(),
        source: Box::new(source),
    })
}

/// Builds the simulation of a scenario with every built-in model registered.
pub fn build(
    file: &str,
    sc: &Scenario,
    threads: usize,
) -> Result<(Simulation, ember_engine::ScenarioHandles), RunError> {
    let err = |source| RunError::Build {
        file: file.to_owned(),
        source: Box::new(source),
    };
    let config: SimConfig = sc.config(threads).map_err(err)?;
    let mut sim = Simulation::new(config).map_err(err)?;
    ember_models::register_all(&mut sim);
    let handles = sim.add_scenario(sc).map_err(err)?;
    sim.initialize()?;
    Ok((sim, handles))
}

/// Runs a parsed scenario and writes its outputs (CSV, no progress bar) to `opts.out`.
pub fn run(file: &str, sc: &Scenario, opts: &RunOptions) -> Result<RunReport, RunError> {
    run_with(file, sc, opts, &RunExtras::default())
}

/// Runs a parsed scenario and writes its outputs to `opts.out`, with the array files and
/// progress bar `extras` asks for. The steps run in chunks (see [`progress::run_in_chunks`]);
/// outputs are identical to one uninterrupted run.
pub fn run_with(
    file: &str,
    sc: &Scenario,
    opts: &RunOptions,
    extras: &RunExtras,
) -> Result<RunReport, RunError> {
    let start = Instant::now();
    let (mut sim, h) = build(file, sc, opts.threads)?;
    let build_seconds = start.elapsed().as_secs_f64();
    let mut bar = Progress::new(h.steps, extras.progress);
    progress::run_in_chunks(&mut sim, h.steps, &mut bar)?;
    let wall_seconds = start.elapsed().as_secs_f64();
    let loop_seconds = wall_seconds - build_seconds;

    let summary = Summary {
        steps: h.steps,
        step_time: sc.simulation.step_time,
        duration: sc.simulation.duration,
        seed: sc.simulation.seed,
        batch_size: sc.simulation.batch_size,
        populations: h
            .populations
            .iter()
            .map(|(name, id)| PopulationSummary {
                name: name.clone(),
                size: sim.get::<Population>(*id).map_or(0, |p| p.size),
                spikes: sim.get::<SpikeTotal>(*id).map_or(0, |t| t.0),
            })
            .collect(),
        wall_seconds,
        threads: sim.config().threads,
    };

    let out = &opts.out;
    let werr = |path: &Path| {
        let path = path.to_owned();
        move |source| RunError::Write { path, source }
    };
    fs::create_dir_all(out).map_err(werr(out))?;
    let mut files = Vec::new();
    let dt = sc.simulation.step_time;

    let spikes: Vec<PopulationSpikes<'_>> = h
        .spike_recorders
        .iter()
        .map(|&(k, rec)| PopulationSpikes {
            name: &h.populations[k].0,
            index: k as u32,
            spikes: sim
                .spike_recorder(rec)
                .expect("a spike recorder of the run"),
        })
        .collect();
    let path = out.join("spikes.csv");
    write_file(&path, |w| output::write_spikes_csv(w, &spikes, dt))?;
    files.push(path);
    if extras.format == OutputFormat::Npy {
        let path = out.join("spikes.npy");
        write_file(&path, |w| output::write_spikes_npy(w, &spikes, dt))?;
        files.push(path);
    }

    if !h.trace_recorders.is_empty() || !h.projection_trace_recorders.is_empty() {
        let tables: Vec<TraceTable<'_>> = h
            .trace_recorders
            .iter()
            .filter_map(|&(k, rec)| {
                sim.trace(rec).map(|recorder| TraceTable {
                    target: &h.populations[k].0,
                    target_index: k as u32,
                    batch: sc.simulation.batch_size as usize,
                    recorder,
                })
            })
            .collect();
        let mut projection_rows = Vec::new();
        for &(k, rec) in &h.projection_trace_recorders {
            let Some(r) = sim.projection_trace(rec) else {
                continue;
            };
            projection_rows.extend(r.rows().map(|row| output::ProjectionTraceRow {
                target: &h.projections[k].0,
                target_index: (h.populations.len() + k) as u32,
                variable: row.variable.name(),
                index: row.index as u32,
                batch: row.batch,
                step: row.step,
                value: row.value,
            }));
        }
        let path = out.join("traces.csv");
        write_file(&path, |w| {
            output::write_traces_csv(w, &tables, dt)?;
            output::write_projection_traces_csv(w, &projection_rows, dt)
        })?;
        files.push(path);
        if extras.format == OutputFormat::Npy {
            let path = out.join("traces.npy");
            write_file(&path, |w| {
                output::write_traces_npy(w, &tables, &projection_rows, dt)
            })?;
            files.push(path);
        }
        if !opts.no_plot && !tables.is_empty() {
            let path = out.join("traces.png");
            plot_traces(&path, &tables, dt)?;
            files.push(path);
        }
    }

    let path = out.join("summary.json");
    let json = serde_json::to_string_pretty(&summary.to_json()).expect("JSON of plain values");
    write_file(&path, |w| {
        std::io::Write::write_all(w, (json + "\n").as_bytes())
    })?;
    files.push(path);

    if !opts.no_plot {
        let populations: Vec<plot::RasterPopulation> = summary
            .populations
            .iter()
            .map(|p| plot::RasterPopulation {
                name: p.name.clone(),
                size: p.size,
            })
            .collect();
        let raster: Vec<plot::RasterSpike> = h
            .spike_recorders
            .iter()
            .flat_map(|&(k, rec)| {
                sim.spike_recorder(rec)
                    .into_iter()
                    .flat_map(|r| r.events())
                    .filter(|e| e.batch == 0)
                    .map(move |e| plot::RasterSpike {
                        population: k as u32,
                        neuron: e.neuron,
                        time_ms: e.step as f64 * dt,
                    })
            })
            .collect();
        let path = out.join("raster.png");
        plot::write_raster_png(
            &path,
            &plot::RasterSpec {
                title: format!("{file} — spikes (batch 0)"),
                populations: &populations,
                spikes: &raster,
                duration_ms: sc.simulation.duration,
            },
        )?;
        files.push(path);
    }
    if extras.exiting {
        std::mem::forget(sim);
    }
    Ok(RunReport {
        summary,
        files,
        build_seconds,
        loop_seconds,
    })
}

/// Writes `path` through `f`: over the last run's file in place, then cut to the length
/// written (a symbolic link is written through). Neither truncated to zero first nor
/// removed: on ext4 a file truncated to zero starts its write-back when closed
/// (`auto_da_alloc`), and removing one frees (and here discards) its blocks; rewriting the
/// same `spikes.csv` (420 kB) costs a fraction of either, and a small `summary.json`
/// ≈ 0.1 ms less.
fn write_file(
    path: &Path,
    f: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), RunError> {
    let err = |source| RunError::Write {
        path: path.to_owned(),
        source,
    };
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(err)?;
    let mut w = BufWriter::with_capacity(1 << 16, file);
    f(&mut w).map_err(err)?;
    std::io::Write::flush(&mut w).map_err(err)?;
    let file = w.get_mut();
    // Only a regular file has a length to cut (a link to `/dev/null`, say, has none).
    if !file.metadata().map_err(err)?.is_file() {
        return Ok(());
    }
    let len = std::io::Seek::stream_position(file).map_err(err)?;
    file.set_len(len).map_err(err)
}

/// Voltage traces of the recorded neurons (at most 12 lines, batch 0), else the first
/// recorded variable.
fn plot_traces(path: &Path, tables: &[TraceTable<'_>], dt: f64) -> Result<(), RunError> {
    const MAX_LINES: usize = 12;
    let mut series = Vec::new();
    let var_of = |t: &TraceTable<'_>| {
        t.recorder
            .variables
            .iter()
            .position(|v| *v == ember_engine::TraceVariable::Voltage)
            .unwrap_or(0)
    };
    let y_var = tables
        .first()
        .map(|t| t.recorder.variables[var_of(t)])
        .unwrap_or(ember_engine::TraceVariable::Voltage);
    for t in tables {
        let r = t.recorder;
        let vi = var_of(t);
        if r.variables[vi] != y_var {
            continue;
        }
        for (k, &neuron) in r.neurons.iter().enumerate() {
            if series.len() == MAX_LINES {
                break;
            }
            series.push(plot::TraceSeries {
                label: format!("{} {}", t.target, neuron),
                times_ms: r.steps.iter().map(|&s| s as f64 * dt).collect(),
                values: (0..r.steps.len())
                    .map(|s| r.value(s, vi, 0, k, t.batch) as f64)
                    .collect(),
            });
        }
    }
    let unit = match y_var {
        ember_engine::TraceVariable::Voltage => "voltage (mV)",
        ember_engine::TraceVariable::Refrac => "refractory time (ms)",
        ember_engine::TraceVariable::Input => "input current (nA)",
        ember_engine::TraceVariable::Adaptation(_) => "adaptation (model units)",
        ember_engine::TraceVariable::Threshold => "effective threshold (mV)",
    };
    plot::write_traces_png(
        path,
        &plot::TracesSpec {
            title: "recorded traces".to_owned(),
            y_label: unit.to_owned(),
            series: &series,
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of the last run is replaced, not left with its tail (whether longer, shorter
    /// or as long), a new one created; a symbolic link is written through (the link stays,
    /// its target gets the contents).
    #[test]
    fn output_files_are_rewritten_or_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spikes.csv");
        write_file(&path, |w| std::io::Write::write_all(w, b"first\n")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\n");
        std::fs::write(&path, "a much longer content of the last run\n").unwrap();
        write_file(&path, |w| std::io::Write::write_all(w, b"new\n")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        write_file(&path, |w| std::io::Write::write_all(w, b"old\n")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        write_file(&path, |w| {
            std::io::Write::write_all(w, b"longer than before\n")
        })
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "longer than before\n"
        );
        #[cfg(unix)]
        {
            let target = dir.path().join("target.csv");
            std::fs::write(&target, "old contents, longer\n").unwrap();
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            write_file(&link, |w| std::io::Write::write_all(w, b"linked\n")).unwrap();
            assert!(
                std::fs::symlink_metadata(&link)
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "linked\n");
            // A link to something that is not a regular file is written through too.
            let null = dir.path().join("null.csv");
            std::os::unix::fs::symlink("/dev/null", &null).unwrap();
            write_file(&null, |w| std::io::Write::write_all(w, b"gone\n")).unwrap();
        }
    }
}

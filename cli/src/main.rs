//! `ember`: run Ember scenario files from the command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ember_cli::progress::Progress;
use ember_cli::run::{self, BUNDLED_CUBA, BUNDLED_CUBA_NAME, OutputFormat, RunExtras, RunOptions};

/// Line-aligned state arrays: see [`ember_engine::alloc`].
#[global_allocator]
static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;

/// Ember: a fast, reproducible spiking neural network simulator.
#[derive(Parser, Debug)]
#[command(name = "ember", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario and write spikes.csv, summary.json, traces.csv and plots.
    #[command(after_long_help = RUN_AFTER_HELP)]
    Run {
        /// Scenario file: .toml, .json or .ron (the format follows the extension). Without
        /// it, the bundled CUBA benchmark (scenarios/cuba.toml) runs.
        file: Option<PathBuf>,
        /// Output directory, created if missing [default: out/NAME, NAME being the scenario
        /// file name without extension].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Compute threads (0 = one per core). Results do not depend on it.
        #[arg(long, value_name = "N", default_value_t = 0)]
        threads: usize,
        /// Seed of every random stream, replacing the scenario's `[simulation] seed`
        /// (summary.json reports the seed used).
        #[arg(long, value_name = "S")]
        seed: Option<u64>,
        /// Do not render raster.png / traces.png.
        #[arg(long)]
        no_plot: bool,
        /// Output arrays: `csv` writes spikes.csv and traces.csv; `npy` also writes
        /// spikes.npy and traces.npy (NumPy structured arrays, see below).
        #[arg(long, value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Csv)]
        format: OutputFormat,
    },
    /// Check a scenario without running it: exit 0 if `ember run` would start, else print
    /// the error (file, field path, what was expected) and exit 2.
    Validate {
        /// Scenario file (.toml, .json or .ron).
        file: PathBuf,
    },
    /// Describe the network a scenario builds: populations, projections, synapse counts and
    /// memory, without running it.
    Inspect {
        /// Scenario file (.toml, .json or .ron).
        file: PathBuf,
    },
}

/// The end of `ember run --help`: outputs, the .npy layout, progress and exit status.
const RUN_AFTER_HELP: &str = "\
Outputs (in DIR):
  spikes.csv    population,neuron,batch,step,time — one row per spike, by step, then
                population (declaration order), batch, neuron
  traces.csv    target,variable,index,batch,step,time,value (when something is traced)
  summary.json  steps, step_time, duration, seed, batch_size, populations, wall_seconds,
                threads
  raster.png, traces.png   plots (unless --no-plot)
  spikes.npy    with --format npy: one record per spike, in spikes.csv order, dtype
                [('population','<u4'), ('neuron','<u4'), ('batch','<u4'), ('step','<u8'),
                 ('time','<f4')]
  traces.npy    with --format npy, when traced: one record per traces.csv row, dtype
                [('target','<u4'), ('variable','<U16'), ('index','<u4'), ('batch','<u4'),
                 ('step','<u8'), ('time','<f4'), ('value','<f4')]
  `population` / `target` in the .npy files is the population's index in declaration
  order (the order of summary.json's populations); a projection `target` is the number of
  populations plus the projection's declaration index; `time` is in ms. Load with
  numpy.load(path) (no pickle needed).

A progress bar with an ETA is shown on stderr for runs longer than about a second when
stderr is a terminal and the environment variable CI is not set.

Exit status: 0 on success, 2 for an invalid scenario (the message names the file, the
field path and what was expected; nothing is written), 1 for other failures.";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { file } => {
            match run::load(&file)
                .and_then(|(name, sc)| ember_cli::inspect::validate(&name, &sc).map(|()| name))
            {
                Ok(name) => {
                    let _ = writeln!(std::io::stdout(), "{name}: ok");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Inspect { file } => {
            match run::load(&file).and_then(|(name, sc)| ember_cli::inspect::describe(&name, &sc)) {
                Ok(text) => {
                    let _ = write!(std::io::stdout(), "{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Run {
            file,
            out,
            threads,
            seed,
            no_plot,
            format,
        } => {
            let loaded = match &file {
                Some(f) => run::load(f),
                None => run::parse(BUNDLED_CUBA_NAME, BUNDLED_CUBA)
                    .map(|sc| (BUNDLED_CUBA_NAME.to_owned(), sc)),
            };
            let (name, mut sc) = match loaded {
                Ok(x) => x,
                Err(e) => return fail(&e),
            };
            if let Some(seed) = seed {
                sc.simulation.seed = seed;
            }
            let stem = file
                .as_ref()
                .and_then(|f| f.file_stem())
                .map_or_else(|| "cuba".to_owned(), |s| s.to_string_lossy().into_owned());
            let opts = RunOptions {
                out: out.unwrap_or_else(|| PathBuf::from("out").join(stem)),
                threads,
                no_plot,
            };
            let extras = RunExtras {
                format,
                progress: Progress::wanted(),
                exiting: true,
            };
            match run::run_with(&name, &sc, &opts, &extras) {
                Ok(report) => {
                    // A closed stdout (e.g. `ember run | head -1`) is not an error of the run.
                    let _ = print_report(&name, &opts.out, &report);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
    }
}

fn print_report(
    name: &str,
    out_dir: &std::path::Path,
    report: &run::RunReport,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let s = &report.summary;
    writeln!(
        out,
        "{name}: {} steps of {} ms ({} ms), seed {}, {} thread(s), {:.3} s (build {:.6} s, loop {:.6} s)",
        s.steps,
        s.step_time,
        s.duration,
        s.seed,
        s.threads,
        s.wall_seconds,
        report.build_seconds,
        report.loop_seconds
    )?;
    for p in &s.populations {
        writeln!(
            out,
            "  {:<12} {:>8} neurons {:>10} spikes {:>9.3} Hz",
            p.name,
            p.size,
            p.spikes,
            s.rate_hz(p)
        )?;
    }
    writeln!(out, "wrote {}", out_dir.display())?;
    for f in &report.files {
        writeln!(out, "  {}", f.display())?;
    }
    Ok(())
}

fn fail(e: &run::RunError) -> ExitCode {
    eprintln!("error: {e}");
    if e.is_input_error() {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

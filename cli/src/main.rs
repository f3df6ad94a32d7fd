//! `ember`: run Ember scenario files from the command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ember_cli::run::{self, BUNDLED_CUBA, BUNDLED_CUBA_NAME, RunOptions};

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
    Run {
        /// Scenario file (.toml). Without it, the bundled CUBA benchmark runs.
        file: Option<PathBuf>,
        /// Output directory [default: out/NAME, NAME being the scenario file name without extension].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Compute threads (0 = one per core). Results do not depend on it.
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Do not render raster.png / traces.png.
        #[arg(long)]
        no_plot: bool,
    },
    /// Check a scenario without running it: exit 0 if `ember run` would start, else print
    /// the error (file, field path, what was expected) and exit 2.
    Validate {
        /// Scenario file (.toml).
        file: PathBuf,
    },
    /// Describe the network a scenario builds: populations, projections, synapse counts and
    /// memory, without running it.
    Inspect {
        /// Scenario file (.toml).
        file: PathBuf,
    },
}

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
            no_plot,
        } => {
            let loaded = match &file {
                Some(f) => run::load(f),
                None => run::parse(BUNDLED_CUBA_NAME, BUNDLED_CUBA)
                    .map(|sc| (BUNDLED_CUBA_NAME.to_owned(), sc)),
            };
            let (name, sc) = match loaded {
                Ok(x) => x,
                Err(e) => return fail(&e),
            };
            let stem = file
                .as_ref()
                .and_then(|f| f.file_stem())
                .map_or_else(|| "cuba".to_owned(), |s| s.to_string_lossy().into_owned());
            let opts = RunOptions {
                out: out.unwrap_or_else(|| PathBuf::from("out").join(stem)),
                threads,
                no_plot,
            };
            match run::run(&name, &sc, &opts) {
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
        "{name}: {} steps of {} ms ({} ms), seed {}, {} thread(s), {:.3} s",
        s.steps, s.step_time, s.duration, s.seed, s.threads, s.wall_seconds
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

//! # ember-cli
//!
//! The `ember` command-line tool: runs scenario files (SCENARIO.md) and writes spikes,
//! traces, a summary and plots. The library half holds the pieces the binary and its tests
//! share: [`run`] (load, build, run, write), [`inspect`] (validate and describe without
//! running), [`output`] (file formats), [`npy`] (NumPy arrays), [`progress`] (the progress bar
//! and chunked running) and [`plot`] (PNG).

pub mod inspect;
pub mod npy;
pub mod output;
pub mod plot;
pub mod progress;
pub mod run;

//! PNG plots of simulation output: spike rasters and recorded traces.
//!
//! # Why plots are rendered this way
//!
//! Plots are drawn entirely in Rust with [`plotters`]' bitmap backend and
//! encoded to PNG by its pure-Rust encoder. Text is rasterised with
//! `ab_glyph` from a TrueType font that is compiled into the binary
//! (DejaVu Sans, `cli/assets/DejaVuSans.ttf`, see `cli/assets/FONT-LICENSE.txt`),
//! registered once with [`plotters::style::register_font`]. Nothing is looked
//! up on the host: no fontconfig, no FreeType, no system font directories and
//! no other C library. The `ember` binary therefore builds and plots the same
//! way on every machine, including minimal CI containers, and the same input
//! always produces the same pixels.
//!
//! Axes, ticks, labels and legends go through plotters' normal drawing API.
//! Spikes, which can number in the tens of thousands, are written straight
//! into the RGB pixel buffer instead of being drawn as individual plotters
//! elements, which keeps a 4000-neuron, 1000 ms raster fast to render.
//!
//! Files are written to a temporary sibling file and renamed into place, so a
//! failed render never leaves a truncated PNG behind, and the output is PNG
//! whatever extension the caller's path has.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The font shipped with the crate (DejaVu Sans, see `assets/FONT-LICENSE.txt`).
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The family name every text style in this module uses.
const FONT_FAMILY: &str = "sans-serif";

static FONT_REGISTRATION: Once = Once::new();
static FONT_REGISTERED: AtomicBool = AtomicBool::new(false);

/// Registers the embedded font with plotters exactly once per process.
fn ensure_font() -> Result<(), RenderError> {
    FONT_REGISTRATION.call_once(|| {
        let ok = plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT_BYTES).is_ok();
        FONT_REGISTERED.store(ok, Ordering::Release);
    });
    if FONT_REGISTERED.load(Ordering::Acquire) {
        Ok(())
    } else {
        Err(RenderError::Draw(
            "the embedded DejaVu Sans font could not be loaded".to_owned(),
        ))
    }
}

/// Series / population colours (matplotlib's "tab10"), chosen to be
/// distinguishable from each other and legible on white.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4), // blue
    RGBColor(0xd6, 0x27, 0x28), // red
    RGBColor(0x2c, 0xa0, 0x2c), // green
    RGBColor(0xff, 0x7f, 0x0e), // orange
    RGBColor(0x94, 0x67, 0xbd), // purple
    RGBColor(0x8c, 0x56, 0x4b), // brown
    RGBColor(0xe3, 0x77, 0xc2), // pink
    RGBColor(0x17, 0xbe, 0xcf), // cyan
    RGBColor(0xbc, 0xbd, 0x22), // olive
    RGBColor(0x7f, 0x7f, 0x7f), // grey
];

/// Colour of population or series `index`; the palette repeats after ten.
fn palette(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

const RASTER_SIZE: (u32, u32) = (1600, 1000);
const TRACES_SIZE: (u32, u32) = (1600, 900);

const TITLE_FONT_PX: f64 = 30.0;
const DESC_FONT_PX: f64 = 22.0;
const TICK_FONT_PX: f64 = 18.0;
const LEGEND_FONT_PX: f64 = 20.0;
/// Width of the panel right of the plot holding band labels / the legend.
const LEGEND_PANEL_PX: i32 = 260;
const GRID_COLOR: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
const SEPARATOR_COLOR: RGBColor = RGBColor(0x90, 0x90, 0x90);
const TEXT_COLOR: RGBColor = RGBColor(0x20, 0x20, 0x20);

/// One population's band in the raster.
#[derive(Debug, Clone, PartialEq)]
pub struct RasterPopulation {
    /// Population name, shown next to its band.
    pub name: String,
    /// Number of neurons; the band is this many rows tall.
    pub size: u32,
}

/// A spike to draw: population index (into `populations`), neuron index within it, time in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RasterSpike {
    /// Index into [`RasterSpec::populations`].
    pub population: u32,
    /// Neuron index within the population (`< size`).
    pub neuron: u32,
    /// Spike time in milliseconds.
    pub time_ms: f64,
}

/// Everything needed to draw a spike raster.
///
/// Populations are stacked bottom-up in declaration order: population 0
/// occupies the lowest rows, and a spike's row is the population's offset
/// (sum of the sizes before it) plus its neuron index. Spikes whose time lies
/// outside `0..=duration_ms` are not drawn.
#[derive(Debug, Clone)]
pub struct RasterSpec<'a> {
    /// Plot title.
    pub title: String,
    /// Populations in declaration order.
    pub populations: &'a [RasterPopulation],
    /// Spikes to draw, in any order.
    pub spikes: &'a [RasterSpike],
    /// Length of the time axis in ms; `0` draws an empty axis.
    pub duration_ms: f64,
}

/// One recorded trace line.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSeries {
    /// Legend label.
    pub label: String,
    /// Sample times in ms, same length as `values`.
    pub times_ms: Vec<f64>,
    /// Sample values; non-finite values leave a gap in the line.
    pub values: Vec<f64>,
}

/// Everything needed to draw recorded traces.
#[derive(Debug, Clone)]
pub struct TracesSpec<'a> {
    /// Plot title.
    pub title: String,
    /// Label of the y axis, including the unit (e.g. `"v (mV)"`).
    pub y_label: String,
    /// Lines to draw; an empty slice draws empty axes.
    pub series: &'a [TraceSeries],
}

/// Why a plot could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The spec cannot be plotted (bad index, mismatched lengths, ...).
    #[error("cannot plot {}: {message}", path.display())]
    InvalidSpec {
        /// The PNG that was to be written.
        path: PathBuf,
        /// What is wrong with the spec.
        message: String,
    },
    /// Plotters failed to draw or encode the image.
    #[error("failed to draw plot {}: {message}", path.display())]
    Draw {
        /// The PNG that was to be written.
        path: PathBuf,
        /// Plotters' error, as text.
        message: String,
    },
    /// The finished PNG could not be moved into place.
    #[error("failed to write plot {}: {source}", path.display())]
    Io {
        /// The PNG that was to be written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A rendering failure before the output path is attached.
#[derive(Debug)]
enum RenderError {
    Invalid(String),
    Draw(String),
}

impl RenderError {
    fn at(self, path: &Path) -> PlotError {
        let path = path.to_path_buf();
        match self {
            RenderError::Invalid(message) => PlotError::InvalidSpec { path, message },
            RenderError::Draw(message) => PlotError::Draw { path, message },
        }
    }
}

/// Converts any plotters error into a [`RenderError::Draw`].
fn draw_err<E: std::fmt::Display>(e: E) -> RenderError {
    RenderError::Draw(e.to_string())
}

/// Pixel rectangle of a chart's plotting area (half-open ranges).
#[derive(Debug, Clone, PartialEq)]
struct PlotRect {
    x: Range<i32>,
    y: Range<i32>,
}

/// Writes a spike raster of `spec` to `path` as a 1600×1000 PNG.
///
/// # Errors
///
/// [`PlotError::InvalidSpec`] if a spike names a population or neuron that
/// does not exist, has a non-finite time, or `duration_ms` is negative or not
/// finite; [`PlotError::Draw`] / [`PlotError::Io`] if drawing or writing fails.
pub fn write_raster_png(path: &Path, spec: &RasterSpec<'_>) -> Result<(), PlotError> {
    let (w, h) = RASTER_SIZE;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    render_raster(spec, &mut buf, (w, h)).map_err(|e| e.at(path))?;
    save_png(path, &buf, (w, h))
}

/// Writes the traces of `spec` to `path` as a 1600×900 PNG.
///
/// # Errors
///
/// [`PlotError::InvalidSpec`] if a series' `times_ms` and `values` differ in
/// length or a time is not finite; [`PlotError::Draw`] / [`PlotError::Io`] if
/// drawing or writing fails.
pub fn write_traces_png(path: &Path, spec: &TracesSpec<'_>) -> Result<(), PlotError> {
    let (w, h) = TRACES_SIZE;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    render_traces(spec, &mut buf, (w, h)).map_err(|e| e.at(path))?;
    save_png(path, &buf, (w, h))
}

/// Encodes an RGB buffer as PNG at `path`, via a temporary sibling file that
/// ends in `.png` (so the encoder picks PNG) and is renamed into place.
fn save_png(path: &Path, buf: &[u8], size: (u32, u32)) -> Result<(), PlotError> {
    let file_name = path
        .file_name()
        .ok_or_else(|| PlotError::InvalidSpec {
            path: path.to_path_buf(),
            message: "the path has no file name".to_owned(),
        })?
        .to_string_lossy();
    static NEXT_TMP: AtomicUsize = AtomicUsize::new(0);
    let tmp = path.with_file_name(format!(
        ".{file_name}.{}-{}.tmp.png",
        std::process::id(),
        NEXT_TMP.fetch_add(1, Ordering::Relaxed)
    ));
    let encoded = (|| {
        let mut backend = BitMapBackend::new(&tmp, size);
        backend.blit_bitmap((0, 0), size, buf).map_err(draw_err)?;
        backend.present().map_err(draw_err)
    })();
    if let Err(e) = encoded {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.at(path));
    }
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        PlotError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Baseline-corrected y for text anchored at `VPos::Center`: plotters'
/// ab_glyph path draws glyphs about a fifth of the font size above the
/// layout box centre, so shift them down to sit on `y` visually.
fn centered_text_y(y: i32, px: f64) -> i32 {
    y + (0.18 * px).round() as i32
}

fn font(px: f64) -> TextStyle<'static> {
    TextStyle::from((FONT_FAMILY, px).into_font()).color(&TEXT_COLOR)
}

/// Fills the background, draws the title and returns the area below it.
fn draw_frame<'a>(
    root: &DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>,
    title: &str,
) -> Result<DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>, RenderError> {
    root.fill(&WHITE).map_err(draw_err)?;
    let (w, _) = root.dim_in_pixel();
    let style = font(TITLE_FONT_PX).pos(Pos::new(HPos::Center, VPos::Top));
    let (_, title_h) = root.estimate_text_size(title, &style).map_err(draw_err)?;
    let title_h = title_h.max(TITLE_FONT_PX as u32) as i32;
    let title = fit_text(root, title, &style, w as i32 - 40)?;
    root.draw_text(&title, &style, (w as i32 / 2, 14))
        .map_err(draw_err)?;
    Ok(root.margin(title_h + 28, 14, 14, 14))
}

/// Shortens `text` with a trailing ellipsis until it is at most `max_w` px wide.
fn fit_text(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    text: &str,
    style: &TextStyle<'_>,
    max_w: i32,
) -> Result<String, RenderError> {
    let width = |s: &str| -> Result<i32, RenderError> {
        Ok(area.estimate_text_size(s, style).map_err(draw_err)?.0 as i32)
    };
    if width(text)? <= max_w {
        return Ok(text.to_owned());
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().collect::<String>() + "…";
        if width(&candidate)? <= max_w {
            return Ok(candidate);
        }
    }
    Ok("…".to_owned())
}

/// Vertical positions for `desired` label centres (sorted top to bottom)
/// such that neighbours are at least `spacing` px apart and all lie in
/// `lo..=hi`; returns the positions and the spacing actually used.
fn spread_labels(desired: &[f64], spacing: f64, lo: f64, hi: f64) -> (Vec<f64>, f64) {
    let n = desired.len();
    if n == 0 {
        return (Vec::new(), spacing);
    }
    let spacing = if n > 1 {
        spacing.min((hi - lo) / (n - 1) as f64)
    } else {
        spacing
    };
    let mut pos: Vec<f64> = desired.iter().map(|d| d.clamp(lo, hi)).collect();
    for i in 1..n {
        pos[i] = pos[i].max(pos[i - 1] + spacing);
    }
    pos[n - 1] = pos[n - 1].min(hi);
    for i in (0..n - 1).rev() {
        pos[i] = pos[i].min(pos[i + 1] - spacing);
    }
    pos[0] = pos[0].max(lo);
    for i in 1..n {
        pos[i] = pos[i].max(pos[i - 1] + spacing);
    }
    (pos, spacing)
}

/// Tick label formatter for an axis spanning `range`: as many decimals as
/// the tick spacing needs (trailing zeros trimmed), scientific notation for
/// very large or very small magnitudes.
fn tick_formatter(range: &Range<f64>) -> impl Fn(&f64) -> String + use<> {
    let span = (range.end - range.start).abs();
    let magnitude = range.start.abs().max(range.end.abs());
    let scientific = magnitude >= 1e6 || (magnitude > 0.0 && magnitude < 1e-3);
    let step = span / 10.0;
    let decimals = if step >= 1.0 || step <= 0.0 {
        0
    } else {
        ((-step.log10()).ceil() as usize + 1).min(12)
    };
    move |v: &f64| {
        if scientific {
            let s = format!("{v:.2e}");
            match s.split_once('e') {
                Some((m, e)) if m.contains('.') => {
                    format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
                }
                _ => s,
            }
        } else {
            let s = format!("{v:.decimals$}");
            let s = if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.')
            } else {
                &s
            };
            if s == "-0" {
                "0".to_owned()
            } else {
                s.to_owned()
            }
        }
    }
}

/// Labels for integral tick values only (neuron indices).
fn integer_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// Checks the raster spec and returns each population's row offset and the
/// total number of rows.
fn raster_offsets(spec: &RasterSpec<'_>) -> Result<(Vec<u64>, u64), RenderError> {
    if !spec.duration_ms.is_finite() || spec.duration_ms < 0.0 {
        return Err(RenderError::Invalid(format!(
            "duration must be finite and non-negative, got {} ms",
            spec.duration_ms
        )));
    }
    let mut offsets = Vec::with_capacity(spec.populations.len());
    let mut total = 0u64;
    for p in spec.populations {
        offsets.push(total);
        total += u64::from(p.size);
    }
    for (i, s) in spec.spikes.iter().enumerate() {
        let Some(pop) = spec.populations.get(s.population as usize) else {
            return Err(RenderError::Invalid(format!(
                "spike {i} names population {} but there are only {}",
                s.population,
                spec.populations.len()
            )));
        };
        if s.neuron >= pop.size {
            return Err(RenderError::Invalid(format!(
                "spike {i} names neuron {} of population {:?}, which has {} neurons",
                s.neuron, pop.name, pop.size
            )));
        }
        if !s.time_ms.is_finite() {
            return Err(RenderError::Invalid(format!(
                "spike {i} has a non-finite time {}",
                s.time_ms
            )));
        }
    }
    Ok((offsets, total))
}

/// Draws the raster into an RGB buffer of `size` and returns the pixel
/// rectangle of the plotting area.
fn render_raster(
    spec: &RasterSpec<'_>,
    buf: &mut [u8],
    size: (u32, u32),
) -> Result<PlotRect, RenderError> {
    ensure_font()?;
    let (offsets, total) = raster_offsets(spec)?;
    let x_max = if spec.duration_ms > 0.0 {
        spec.duration_ms
    } else {
        1.0
    };
    let y_max = total.max(1) as f64;

    // Pixel positions of spikes, computed while the chart (and its exact
    // coordinate mapping) is alive and written after it releases `buf`.
    let mut spike_px: Vec<(i32, i32, u8)> = Vec::with_capacity(spec.spikes.len());
    let rect;
    let row_px;
    {
        let root = BitMapBackend::with_buffer(buf, size).into_drawing_area();
        let body = draw_frame(&root, &spec.title)?;
        let (chart_area, _) =
            body.split_horizontally(body.dim_in_pixel().0 as i32 - LEGEND_PANEL_PX);

        let x_fmt = tick_formatter(&(0.0..x_max));
        let mut chart = ChartBuilder::on(&chart_area)
            .margin_top(6)
            .margin_right(12)
            .x_label_area_size(64)
            .y_label_area_size(96)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("time (ms)")
            .y_desc("neuron")
            .axis_desc_style(font(DESC_FONT_PX))
            .label_style(font(TICK_FONT_PX))
            .x_labels(11)
            .x_label_formatter(&x_fmt)
            .y_labels((total + 1).min(11) as usize)
            .y_label_formatter(&integer_label)
            .bold_line_style(GRID_COLOR)
            .light_line_style(TRANSPARENT)
            .axis_style(TEXT_COLOR)
            .draw()
            .map_err(draw_err)?;

        // Lines between population bands.
        for &off in offsets.iter().skip(1).filter(|&&o| o > 0 && o < total) {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, off as f64), (x_max, off as f64)],
                    SEPARATOR_COLOR.stroke_width(1),
                )))
                .map_err(draw_err)?;
        }

        let (xr, yr) = chart.plotting_area().get_pixel_range();
        rect = PlotRect { x: xr, y: yr };
        row_px = f64::from(rect.y.end - rect.y.start) / y_max;

        for s in spec.spikes {
            if !(0.0..=spec.duration_ms).contains(&s.time_ms) {
                continue;
            }
            let row = offsets[s.population as usize] + u64::from(s.neuron);
            let (x, y) = chart.backend_coord(&(s.time_ms, row as f64 + 0.5));
            spike_px.push((x, y, (s.population as usize % PALETTE.len()) as u8));
        }

        draw_band_labels(&root, spec, &offsets, total, &rect, &|v| {
            chart.backend_coord(&(0.0, v)).1
        })?;
        if spike_px.is_empty() {
            let style = font(DESC_FONT_PX)
                .color(&SEPARATOR_COLOR)
                .pos(Pos::new(HPos::Center, VPos::Center));
            root.draw_text(
                "no spikes",
                &style,
                (
                    (rect.x.start + rect.x.end) / 2,
                    centered_text_y((rect.y.start + rect.y.end) / 2, DESC_FONT_PX),
                ),
            )
            .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }

    // Each spike is a small rectangle: 2 px wide, and as tall as ~80 % of a
    // neuron's row (2..=12 px), clipped to the plotting area.
    let mark_h = (row_px * 0.8).round().clamp(2.0, 12.0) as i32;
    let (w, _) = size;
    for &(x, y, c) in &spike_px {
        let RGBColor(r, g, b) = PALETTE[c as usize];
        let y0 = (y - mark_h / 2).max(rect.y.start);
        let y1 = (y0 + mark_h).min(rect.y.end);
        let x0 = x.max(rect.x.start);
        let x1 = (x0 + 2).min(rect.x.end);
        for py in y0..y1 {
            let row = py as usize * w as usize;
            for px in x0..x1 {
                let i = (row + px as usize) * 3;
                buf[i] = r;
                buf[i + 1] = g;
                buf[i + 2] = b;
            }
        }
    }
    Ok(rect)
}

/// Draws, right of the plot, a colour strip marking each population's band
/// and a "name (n = size)" label next to it, pushed apart where bands are
/// too thin to hold their labels (with a leader line back to the band).
fn draw_band_labels(
    root: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    spec: &RasterSpec<'_>,
    offsets: &[u64],
    total: u64,
    rect: &PlotRect,
    y_of: &dyn Fn(f64) -> i32,
) -> Result<(), RenderError> {
    let strip_x = rect.x.end + 14;
    let strip_w = 10;
    let label_x = strip_x + strip_w + 22;
    let max_label_w = root.dim_in_pixel().0 as i32 - label_x - 16;

    // Top-to-bottom order: last population first.
    let order: Vec<usize> = (0..spec.populations.len()).rev().collect();
    let mut desired = Vec::with_capacity(order.len());
    for &i in &order {
        let p = &spec.populations[i];
        let (top, bottom) = if total > 0 {
            (
                y_of((offsets[i] + u64::from(p.size)) as f64),
                y_of(offsets[i] as f64),
            )
        } else {
            (rect.y.start, rect.y.end)
        };
        if p.size > 0 {
            root.draw(&Rectangle::new(
                [(strip_x, top), (strip_x + strip_w, bottom.max(top + 1))],
                palette(i).filled(),
            ))
            .map_err(draw_err)?;
        }
        desired.push(f64::from(top + bottom) / 2.0);
    }

    let (pos, spacing) = spread_labels(
        &desired,
        LEGEND_FONT_PX * 1.45,
        f64::from(rect.y.start) + LEGEND_FONT_PX * 0.6,
        f64::from(rect.y.end) - LEGEND_FONT_PX * 0.6,
    );
    let font_px = (spacing / 1.45).clamp(9.0, LEGEND_FONT_PX);
    for (k, &i) in order.iter().enumerate() {
        let p = &spec.populations[i];
        let y = pos[k].round() as i32;
        let want = desired[k].round() as i32;
        if (y - want).abs() > 2 {
            root.draw(&PathElement::new(
                vec![(strip_x + strip_w + 2, want), (label_x - 4, y)],
                SEPARATOR_COLOR.stroke_width(1),
            ))
            .map_err(draw_err)?;
        }
        let color = palette(i);
        let style = font(font_px)
            .color(&color)
            .pos(Pos::new(HPos::Left, VPos::Center));
        // Truncate the name, never the size.
        let suffix = format!(" (n = {})", p.size);
        let suffix_w = root
            .estimate_text_size(&suffix, &style)
            .map_err(draw_err)?
            .0 as i32;
        let name = fit_text(root, &p.name, &style, max_label_w - suffix_w)?;
        let text = format!("{name}{suffix}");
        root.draw_text(&text, &style, (label_x, centered_text_y(y, font_px)))
            .map_err(draw_err)?;
    }
    Ok(())
}

/// Axis range covering `lo..=hi` with `pad` fraction of margin; degenerate
/// or empty ranges are widened so the axis is always drawable.
fn padded_range(lo: f64, hi: f64, pad: f64) -> Range<f64> {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return 0.0..1.0;
    }
    if hi == lo {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - d)..(hi + d);
    }
    let d = (hi - lo) * pad;
    (lo - d)..(hi + d)
}

/// Draws the traces into an RGB buffer of `size` and returns the pixel
/// rectangle of the plotting area.
fn render_traces(
    spec: &TracesSpec<'_>,
    buf: &mut [u8],
    size: (u32, u32),
) -> Result<PlotRect, RenderError> {
    ensure_font()?;
    let (mut t_lo, mut t_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut v_lo, mut v_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, s) in spec.series.iter().enumerate() {
        if s.times_ms.len() != s.values.len() {
            return Err(RenderError::Invalid(format!(
                "series {i} ({:?}) has {} times but {} values",
                s.label,
                s.times_ms.len(),
                s.values.len()
            )));
        }
        for (&t, &v) in s.times_ms.iter().zip(&s.values) {
            if !t.is_finite() {
                return Err(RenderError::Invalid(format!(
                    "series {i} ({:?}) has a non-finite time {t}",
                    s.label
                )));
            }
            if v.is_finite() {
                t_lo = t_lo.min(t);
                t_hi = t_hi.max(t);
                v_lo = v_lo.min(v);
                v_hi = v_hi.max(v);
            }
        }
    }
    let x_range = padded_range(t_lo, t_hi, 0.0);
    let y_range = padded_range(v_lo, v_hi, 0.05);

    let x_fmt = tick_formatter(&x_range);
    let y_fmt = tick_formatter(&y_range);
    let root = BitMapBackend::with_buffer(buf, size).into_drawing_area();
    let body = draw_frame(&root, &spec.title)?;
    let (chart_area, _) = body.split_horizontally(body.dim_in_pixel().0 as i32 - LEGEND_PANEL_PX);
    let mut chart = ChartBuilder::on(&chart_area)
        .margin_top(6)
        .margin_right(12)
        .x_label_area_size(64)
        .y_label_area_size(110)
        .build_cartesian_2d(x_range, y_range)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc("time (ms)")
        .y_desc(spec.y_label.as_str())
        .axis_desc_style(font(DESC_FONT_PX))
        .label_style(font(TICK_FONT_PX))
        .x_labels(11)
        .x_label_formatter(&x_fmt)
        .y_labels(9)
        .y_label_formatter(&y_fmt)
        .bold_line_style(GRID_COLOR)
        .light_line_style(TRANSPARENT)
        .axis_style(TEXT_COLOR)
        .draw()
        .map_err(draw_err)?;

    for (i, s) in spec.series.iter().enumerate() {
        let style = palette(i).stroke_width(2);
        // Non-finite values split the line into separate runs.
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        for (&t, &v) in s.times_ms.iter().zip(&s.values) {
            if v.is_finite() {
                run.push((t, v));
            } else if !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        for run in runs {
            if run.len() == 1 {
                // A lone sample has no line; mark it so it stays visible.
                chart
                    .draw_series(std::iter::once(Circle::new(run[0], 4, palette(i).filled())))
                    .map_err(draw_err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(run, style))
                    .map_err(draw_err)?;
            }
        }
    }

    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let rect = PlotRect { x: xr, y: yr };

    if spec.series.is_empty() {
        let style = font(DESC_FONT_PX)
            .color(&SEPARATOR_COLOR)
            .pos(Pos::new(HPos::Center, VPos::Center));
        root.draw_text(
            "no traces recorded",
            &style,
            (
                (rect.x.start + rect.x.end) / 2,
                centered_text_y((rect.y.start + rect.y.end) / 2, DESC_FONT_PX),
            ),
        )
        .map_err(draw_err)?;
    }

    // Legend: one swatch + label per series, top-down beside the plot.
    let swatch_x = rect.x.end + 14;
    let label_x = swatch_x + 36;
    let max_label_w = size.0 as i32 - label_x - 16;
    let n = spec.series.len();
    let avail = f64::from(rect.y.end - rect.y.start);
    let spacing = if n > 0 {
        (LEGEND_FONT_PX * 1.45).min(avail / n as f64)
    } else {
        0.0
    };
    let font_px = (spacing / 1.45).clamp(9.0, LEGEND_FONT_PX);
    for (i, s) in spec.series.iter().enumerate() {
        let y = (f64::from(rect.y.start) + spacing * (i as f64 + 0.5)).round() as i32;
        root.draw(&PathElement::new(
            vec![(swatch_x, y), (swatch_x + 26, y)],
            palette(i).stroke_width(3),
        ))
        .map_err(draw_err)?;
        let style = font(font_px).pos(Pos::new(HPos::Left, VPos::Center));
        let text = fit_text(&root, &s.label, &style, max_label_w)?;
        root.draw_text(&text, &style, (label_x, centered_text_y(y, font_px)))
            .map_err(draw_err)?;
    }
    root.present().map_err(draw_err)?;
    Ok(rect)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(buf: &[u8], w: u32, x: i32, y: i32) -> RGBColor {
        let i = (y as usize * w as usize + x as usize) * 3;
        RGBColor(buf[i], buf[i + 1], buf[i + 2])
    }

    /// Pixel coordinates inside `rect` whose colour is exactly `color`.
    fn pixels_of(buf: &[u8], w: u32, rect: &PlotRect, color: RGBColor) -> Vec<(i32, i32)> {
        let mut out = Vec::new();
        for y in rect.y.clone() {
            for x in rect.x.clone() {
                if pixel(buf, w, x, y) == color {
                    out.push((x, y));
                }
            }
        }
        out
    }

    fn raster(spec: &RasterSpec<'_>) -> (Vec<u8>, PlotRect) {
        let (w, h) = RASTER_SIZE;
        let mut buf = vec![0u8; (w * h * 3) as usize];
        let rect = render_raster(spec, &mut buf, (w, h)).expect("raster renders");
        (buf, rect)
    }

    fn traces(spec: &TracesSpec<'_>) -> (Vec<u8>, PlotRect) {
        let (w, h) = TRACES_SIZE;
        let mut buf = vec![0u8; (w * h * 3) as usize];
        let rect = render_traces(spec, &mut buf, (w, h)).expect("traces render");
        (buf, rect)
    }

    fn pops(sizes: &[(&str, u32)]) -> Vec<RasterPopulation> {
        sizes
            .iter()
            .map(|&(name, size)| RasterPopulation {
                name: name.to_owned(),
                size,
            })
            .collect()
    }

    fn spike(population: u32, neuron: u32, time_ms: f64) -> RasterSpike {
        RasterSpike {
            population,
            neuron,
            time_ms,
        }
    }

    /// A fresh, empty directory under the system temp dir.
    fn scratch_dir(tag: &str) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "ember-plot-{tag}-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

    #[test]
    fn raster_stacks_populations_bottom_up_in_their_colours() {
        let populations = pops(&[("exc", 30), ("inh", 10)]);
        let mut spikes = Vec::new();
        for n in 0..30 {
            for t in [10.0, 30.0, 50.0, 70.0, 90.0] {
                spikes.push(spike(0, n, t));
            }
        }
        for n in 0..10 {
            for t in [20.0, 40.0, 60.0, 80.0] {
                spikes.push(spike(1, n, t));
            }
        }
        let spec = RasterSpec {
            title: "bands".into(),
            populations: &populations,
            spikes: &spikes,
            duration_ms: 100.0,
        };
        let (buf, rect) = raster(&spec);
        let w = RASTER_SIZE.0;
        let height = f64::from(rect.y.end - rect.y.start);
        let width = f64::from(rect.x.end - rect.x.start);
        // Row 30 of 40 (the exc/inh boundary), counted from the bottom.
        let boundary = f64::from(rect.y.end) - height * 30.0 / 40.0;
        let x_at = |t: f64| f64::from(rect.x.start) + width * t / 100.0;

        let exc = pixels_of(&buf, w, &rect, PALETTE[0]);
        let inh = pixels_of(&buf, w, &rect, PALETTE[1]);
        assert!(exc.len() >= 150 * 4, "exc spikes missing: {}", exc.len());
        assert!(inh.len() >= 40 * 4, "inh spikes missing: {}", inh.len());
        for &(x, y) in &exc {
            assert!(
                f64::from(y) > boundary - 1.0,
                "exc pixel above its band at y={y}"
            );
            let near = [10.0, 30.0, 50.0, 70.0, 90.0]
                .iter()
                .any(|&t| (f64::from(x) - x_at(t)).abs() <= 3.0);
            assert!(near, "exc pixel at x={x} is not at an exc spike time");
        }
        for &(x, y) in &inh {
            assert!(
                f64::from(y) < boundary + 1.0,
                "inh pixel below its band at y={y}"
            );
            let near = [20.0, 40.0, 60.0, 80.0]
                .iter()
                .any(|&t| (f64::from(x) - x_at(t)).abs() <= 3.0);
            assert!(near, "inh pixel at x={x} is not at an inh spike time");
        }
        // Neuron 0 of exc is the bottom row; the top inh neuron the top row.
        let row_h = height / 40.0;
        assert!(
            exc.iter()
                .any(|&(_, y)| f64::from(y) > f64::from(rect.y.end) - row_h)
        );
        assert!(
            inh.iter()
                .any(|&(_, y)| f64::from(y) < f64::from(rect.y.start) + row_h)
        );
        // Axis labels and title were rendered with the embedded font.
        let dark = |x: i32, y: i32| {
            let RGBColor(r, g, b) = pixel(&buf, w, x, y);
            u32::from(r) + u32::from(g) + u32::from(b) < 200
        };
        assert!(
            (0..rect.y.start).any(|y| (0..w as i32).any(|x| dark(x, y))),
            "no title"
        );
        assert!(
            (rect.y.end + 8..RASTER_SIZE.1 as i32).any(|y| (rect.x.clone()).any(|x| dark(x, y))),
            "no x tick labels"
        );
    }

    #[test]
    fn raster_draws_band_labels_in_population_colours_beside_the_plot() {
        let populations = pops(&[("a", 50), ("b", 50)]);
        let spec = RasterSpec {
            title: String::new(),
            populations: &populations,
            spikes: &[],
            duration_ms: 10.0,
        };
        let (buf, rect) = raster(&spec);
        let (w, _) = RASTER_SIZE;
        let mid = (rect.y.start + rect.y.end) / 2;
        let right = PlotRect {
            x: rect.x.end + 1..w as i32,
            y: rect.y.clone(),
        };
        let a = pixels_of(&buf, w, &right, PALETTE[0]);
        let b = pixels_of(&buf, w, &right, PALETTE[1]);
        assert!(a.iter().all(|&(_, y)| y >= mid - 1) && !a.is_empty());
        assert!(b.iter().all(|&(_, y)| y <= mid + 1) && !b.is_empty());
        // Nothing spiked, so nothing coloured inside the plot.
        assert!(pixels_of(&buf, w, &rect, PALETTE[0]).is_empty());
        assert!(pixels_of(&buf, w, &rect, PALETTE[1]).is_empty());
    }

    #[test]
    fn raster_handles_degenerate_specs() {
        let w = RASTER_SIZE.0;
        let one = pops(&[("solo", 1)]);
        let at_zero = [spike(0, 0, 0.0)];
        // Duration 0: an empty axis, a spike at t = 0 still lands on it.
        let (buf, rect) = raster(&RasterSpec {
            title: "duration 0".into(),
            populations: &one,
            spikes: &at_zero,
            duration_ms: 0.0,
        });
        let px = pixels_of(&buf, w, &rect, PALETTE[0]);
        assert!(!px.is_empty());
        assert!(px.iter().all(|&(x, _)| x <= rect.x.start + 2));
        // No populations at all, no spikes.
        let (buf, rect) = raster(&RasterSpec {
            title: "empty".into(),
            populations: &[],
            spikes: &[],
            duration_ms: 100.0,
        });
        assert!(
            PALETTE
                .iter()
                .all(|&c| pixels_of(&buf, w, &rect, c).is_empty())
        );
        // A population of size 0 next to one of size 1.
        let sizes = pops(&[("none", 0), ("one", 1)]);
        let spikes = [spike(1, 0, 5.0)];
        let (buf, rect) = raster(&RasterSpec {
            title: "sizes".into(),
            populations: &sizes,
            spikes: &spikes,
            duration_ms: 10.0,
        });
        assert!(!pixels_of(&buf, w, &rect, PALETTE[1]).is_empty());
        // Spikes outside 0..=duration are skipped, not drawn at the edge.
        let late = [spike(0, 0, 10.5), spike(0, 0, -1.0)];
        let (buf, rect) = raster(&RasterSpec {
            title: "late".into(),
            populations: &one,
            spikes: &late,
            duration_ms: 10.0,
        });
        assert!(pixels_of(&buf, w, &rect, PALETTE[0]).is_empty());
    }

    #[test]
    fn raster_rejects_invalid_specs_naming_the_path() {
        let populations = pops(&[("exc", 4)]);
        let path = Path::new("/nonexistent/raster.png");
        let cases: [(&[RasterSpike], f64); 4] = [
            (&[spike(1, 0, 1.0)], 10.0),
            (&[spike(0, 4, 1.0)], 10.0),
            (&[spike(0, 0, f64::NAN)], 10.0),
            (&[], -1.0),
        ];
        for (spikes, duration_ms) in cases {
            let spec = RasterSpec {
                title: "bad".into(),
                populations: &populations,
                spikes,
                duration_ms,
            };
            let err = write_raster_png(path, &spec).unwrap_err();
            assert!(matches!(err, PlotError::InvalidSpec { .. }), "{err:?}");
            assert!(err.to_string().contains("raster.png"), "{err}");
        }
    }

    #[test]
    fn traces_lines_sit_at_their_values_in_their_colours() {
        let times: Vec<f64> = (0..=100).map(f64::from).collect();
        let series = [
            TraceSeries {
                label: "high".into(),
                times_ms: times.clone(),
                values: vec![1.0; times.len()],
            },
            TraceSeries {
                label: "low".into(),
                times_ms: times.clone(),
                values: vec![0.0; times.len()],
            },
        ];
        let (buf, rect) = traces(&TracesSpec {
            title: "two lines".into(),
            y_label: "v (mV)".into(),
            series: &series,
        });
        let w = TRACES_SIZE.0;
        let h = f64::from(rect.y.end - rect.y.start);
        let high = pixels_of(&buf, w, &rect, PALETTE[0]);
        let low = pixels_of(&buf, w, &rect, PALETTE[1]);
        assert!(!high.is_empty() && !low.is_empty());
        // y range is -0.05..1.05: 1.0 sits ~4.5 % below the top, 0.0 ~4.5 % above the bottom.
        for &(_, y) in &high {
            assert!(f64::from(y - rect.y.start) < 0.1 * h, "high line at y={y}");
        }
        for &(_, y) in &low {
            assert!(f64::from(rect.y.end - y) < 0.1 * h, "low line at y={y}");
        }
        // Both lines span the whole time axis.
        let span = |px: &[(i32, i32)]| {
            let min = px.iter().map(|p| p.0).min().unwrap();
            let max = px.iter().map(|p| p.0).max().unwrap();
            (min, max)
        };
        for px in [&high, &low] {
            let (min, max) = span(px);
            assert!(
                min <= rect.x.start + 2 && max >= rect.x.end - 3,
                "{min}..{max}"
            );
        }
        // Legend swatches beside the plot, in series order from the top.
        let legend = PlotRect {
            x: rect.x.end + 1..w as i32,
            y: rect.y.clone(),
        };
        let sw_high = pixels_of(&buf, w, &legend, PALETTE[0]);
        let sw_low = pixels_of(&buf, w, &legend, PALETTE[1]);
        assert!(!sw_high.is_empty() && !sw_low.is_empty());
        assert!(sw_high[0].1 < sw_low[0].1);
    }

    #[test]
    fn traces_handle_single_points_gaps_and_no_series() {
        let w = TRACES_SIZE.0;
        let series = [TraceSeries {
            label: "one sample".into(),
            times_ms: vec![5.0],
            values: vec![-65.0],
        }];
        let (buf, rect) = traces(&TracesSpec {
            title: "single".into(),
            y_label: "v (mV)".into(),
            series: &series,
        });
        let px = pixels_of(&buf, w, &rect, PALETTE[0]);
        assert!(!px.is_empty(), "a single sample must still be visible");
        let cx = (rect.x.start + rect.x.end) / 2;
        let cy = (rect.y.start + rect.y.end) / 2;
        assert!(
            px.iter()
                .all(|&(x, y)| (x - cx).abs() <= 6 && (y - cy).abs() <= 6)
        );

        // A NaN splits the line: no colour over the gap.
        let times: Vec<f64> = (0..=100).map(f64::from).collect();
        let values: Vec<f64> = times
            .iter()
            .map(|&t| {
                if (40.0..=60.0).contains(&t) {
                    f64::NAN
                } else {
                    t
                }
            })
            .collect();
        let series = [TraceSeries {
            label: "gap".into(),
            times_ms: times,
            values,
        }];
        let (buf, rect) = traces(&TracesSpec {
            title: "gap".into(),
            y_label: "v".into(),
            series: &series,
        });
        let width = f64::from(rect.x.end - rect.x.start);
        let gap = (f64::from(rect.x.start) + 0.42 * width) as i32
            ..(f64::from(rect.x.start) + 0.58 * width) as i32;
        let px = pixels_of(&buf, w, &rect, PALETTE[0]);
        assert!(!px.is_empty());
        assert!(px.iter().all(|(x, _)| !gap.contains(x)));

        let (buf, rect) = traces(&TracesSpec {
            title: "none".into(),
            y_label: "v (mV)".into(),
            series: &[],
        });
        assert!(
            PALETTE
                .iter()
                .all(|&c| pixels_of(&buf, w, &rect, c).is_empty())
        );
    }

    #[test]
    fn traces_reject_mismatched_lengths() {
        let series = [TraceSeries {
            label: "broken".into(),
            times_ms: vec![0.0, 1.0],
            values: vec![0.0],
        }];
        let spec = TracesSpec {
            title: "bad".into(),
            y_label: "v".into(),
            series: &series,
        };
        let err = write_traces_png(Path::new("/nonexistent/t.png"), &spec).unwrap_err();
        assert!(matches!(err, PlotError::InvalidSpec { .. }), "{err:?}");
    }

    #[test]
    fn pngs_are_written_atomically_whatever_the_extension() {
        let dir = scratch_dir("write");
        let populations = pops(&[("exc", 800), ("inh", 200)]);
        let spikes: Vec<RasterSpike> = (0..5000u32)
            .map(|i| {
                let global = (i * 7919) % 1000;
                let (p, n) = if global < 800 {
                    (0, global)
                } else {
                    (1, global - 800)
                };
                spike(p, n, f64::from((i * 104_729) % 1000) / 2.0)
            })
            .collect();
        let full = dir.join("raster.png");
        let empty = dir.join("empty.png");
        let mut spec = RasterSpec {
            title: "raster".into(),
            populations: &populations,
            spikes: &spikes,
            duration_ms: 500.0,
        };
        write_raster_png(&full, &spec).unwrap();
        spec.spikes = &[];
        write_raster_png(&empty, &spec).unwrap();

        let times: Vec<f64> = (0..1000).map(|i| f64::from(i) * 0.1).collect();
        let series = [TraceSeries {
            label: "v".into(),
            values: times.iter().map(|t| -65.0 + (t / 7.0).sin()).collect(),
            times_ms: times,
        }];
        let no_ext = dir.join("traces_without_extension");
        write_traces_png(
            &no_ext,
            &TracesSpec {
                title: "traces".into(),
                y_label: "v (mV)".into(),
                series: &series,
            },
        )
        .unwrap();

        for path in [&full, &empty, &no_ext] {
            let bytes = std::fs::read(path).unwrap();
            assert_eq!(bytes[..8], PNG_SIGNATURE, "{}", path.display());
        }
        let full_len = std::fs::metadata(&full).unwrap().len();
        let empty_len = std::fs::metadata(&empty).unwrap().len();
        assert!(full_len > empty_len + 10_000, "{full_len} vs {empty_len}");
        // No temporary files are left behind.
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["empty.png", "raster.png", "traces_without_extension"]
        );

        // A missing directory is an error naming the path, not a panic.
        let missing = dir.join("no/such/dir/raster.png");
        let err = write_raster_png(&missing, &spec).unwrap_err();
        assert!(err.to_string().contains("raster.png"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn font_registration_is_idempotent() {
        ensure_font().unwrap();
        ensure_font().unwrap();
        assert!(FONT_REGISTERED.load(Ordering::Acquire));
    }

    #[test]
    fn labels_are_spread_within_bounds() {
        let (pos, spacing) = spread_labels(&[100.0, 101.0, 102.0, 500.0], 20.0, 90.0, 510.0);
        assert_eq!(spacing, 20.0);
        assert!(pos[0] >= 90.0 && pos[3] <= 510.0);
        for pair in pos.windows(2) {
            assert!(pair[1] - pair[0] >= 20.0 - 1e-9, "{pos:?}");
        }
        assert_eq!(pos[3], 500.0);
        // Too many labels for the room: spacing shrinks, order and bounds hold.
        let desired = vec![50.0; 30];
        let (pos, spacing) = spread_labels(&desired, 20.0, 0.0, 290.0);
        assert!(spacing <= 10.0);
        assert!(pos[0] >= 0.0 && *pos.last().unwrap() <= 290.0 + 1e-9);
        for pair in pos.windows(2) {
            assert!(pair[1] - pair[0] >= spacing - 1e-9);
        }
    }

    #[test]
    fn tick_labels_are_short() {
        let f = tick_formatter(&(0.0..1000.0));
        assert_eq!(f(&100.0), "100");
        assert_eq!(f(&0.0), "0");
        let f = tick_formatter(&(0.0..1.0));
        assert_eq!(f(&0.25), "0.25");
        assert_eq!(f(&0.5), "0.5");
        assert_eq!(f(&-0.0), "0");
        let f = tick_formatter(&(-75.0..-50.0));
        assert_eq!(f(&-65.0), "-65");
        let f = tick_formatter(&(1e-10..3e-10));
        assert_eq!(f(&2.5e-10), "2.5e-10");
        assert_eq!(integer_label(&3.0), "3");
        assert_eq!(integer_label(&0.5), "");
    }
}

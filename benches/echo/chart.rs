//! The throughput chart: grouped bars (one group per server, one bar per payload size) of
//! echoed datagrams per second, with the min–max over rounds as a whisker; SVG, via plotters.

use std::error::Error;
use std::path::{Path, PathBuf};

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::config::{PAYLOADS, WINDOW};
use crate::report::Summary;
use crate::servers::ServerKind;

/// The chart's file name, next to the report.
pub const FILE_NAME: &str = "echo-throughput.svg";

const SIZE: (u32, u32) = (900, 500);
const BAR_COLOURS: [RGBColor; 2] = [RGBColor(66, 110, 180), RGBColor(230, 140, 40)];
/// Width of one bar, in group widths.
const BAR: f64 = 0.36;

/// Writes the chart to `path`, and returns that path.
pub fn write(path: &Path, summary: &Summary) -> Result<PathBuf, Box<dyn Error>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let kinds = summary.kinds();
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let caption = format!(
        "UDP echo throughput, {WINDOW} in flight, loopback \
         (median of {} round(s); whiskers: min–max)",
        summary.rounds()
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(90)
        .build_cartesian_2d(
            0.0..kinds.len() as f64,
            0.0..highest(summary, &kinds) * 1.12,
        )?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .x_labels(0)
        .y_desc("echoed datagrams per second")
        .y_label_formatter(&|y| crate::stats::thousands(*y))
        .draw()?;
    for (bar, size) in PAYLOADS.iter().copied().enumerate() {
        draw_bars(&mut chart, summary, &kinds, bar, size)?;
    }
    draw_group_names(&root, &chart, &kinds)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()?;
    root.present()?;
    Ok(path.to_path_buf())
}

/// The top of the highest whisker (at least 1).
fn highest(summary: &Summary, kinds: &[ServerKind]) -> f64 {
    PAYLOADS
        .iter()
        .flat_map(|&size| {
            kinds
                .iter()
                .map(move |&k| summary.throughput_range(k, size).1)
        })
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max)
}

/// Each server's name under its group.
fn draw_group_names(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    chart: &ChartContext<'_, SVGBackend<'_>, Coords>,
    kinds: &[ServerKind],
) -> Result<(), Box<dyn Error>> {
    let style = ("sans-serif", 16)
        .into_text_style(root)
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (i, kind) in kinds.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(kind.name(), (x, y + 8), style.clone()))?;
    }
    Ok(())
}

/// The chart's coordinates: groups on x (group `i` spans `i..i + 1`), datagrams/s on y.
type Coords = Cartesian2d<RangedCoordf64, RangedCoordf64>;

/// The bars and whiskers of one payload size (`bar` is its position within each group).
fn draw_bars(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Coords>,
    summary: &Summary,
    kinds: &[ServerKind],
    bar: usize,
    size: usize,
) -> Result<(), Box<dyn Error>> {
    let colour = BAR_COLOURS[bar % BAR_COLOURS.len()];
    let left = |i: usize| i as f64 + 0.5 - BAR + bar as f64 * BAR;
    let bars = kinds.iter().enumerate().map(|(i, &k)| {
        let v = summary.throughput(k, size);
        Rectangle::new(
            [(left(i), 0.0), (left(i) + BAR * 0.9, v.max(0.0))],
            colour.filled(),
        )
    });
    chart
        .draw_series(bars)?
        .label(format!("{size} B payload"))
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled()));
    let whiskers = kinds.iter().enumerate().filter_map(|(i, &k)| {
        let (lo, hi) = summary.throughput_range(k, size);
        let x = left(i) + BAR * 0.45;
        (lo.is_finite() && hi > lo).then(|| PathElement::new(vec![(x, lo), (x, hi)], BLACK))
    });
    chart.draw_series(whiskers)?;
    Ok(())
}

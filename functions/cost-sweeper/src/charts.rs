//! The HTML report's charts, drawn as SVG with `plotters`: cost now
//! against serverless per endpoint, each candidate against its break-even
//! curve, and the fleet's estimated saving over the last sweeps.

use plotters::prelude::*;

/// Colours the charts (and the tests reading them) use.
pub const NOW_COLOUR: RGBColor = RGBColor(0xd9, 0x5f, 0x02);
pub const SERVERLESS_COLOUR: RGBColor = RGBColor(0x1b, 0x9e, 0x77);
pub const SAVING_COLOUR: RGBColor = RGBColor(0x75, 0x70, 0xb3);

const WIDTH: u32 = 900;

/// One endpoint's monthly cost now and on serverless.
#[derive(Debug, Clone, PartialEq)]
pub struct CostBar {
    pub endpoint: String,
    pub now: f64,
    pub serverless: f64,
}

/// A candidate: today's serverless cost as a share of its cost now.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakEven {
    pub endpoint: String,
    pub now: f64,
    pub serverless: f64,
}

/// One past sweep's estimated monthly saving.
#[derive(Debug, Clone, PartialEq)]
pub struct SavingPoint {
    pub label: String,
    pub saving: f64,
}

type Drawn = Result<String, String>;

fn failed<E: std::fmt::Debug>(e: E) -> String {
    format!("chart not drawn: {e:?}")
}

/// Horizontal bars, two per endpoint: now and serverless ($/month).
pub fn cost_bars(bars: &[CostBar]) -> Drawn {
    let height = 80 + 28 * bars.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let max = bars
            .iter()
            .map(|b| b.now.max(b.serverless))
            .fold(1.0, f64::max);
        // Two rows per endpoint (serverless, then now), on integer ticks so
        // each endpoint's name sits on its own tick.
        let rows = 2 * bars.len().max(1) as i32;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(260)
            .build_cartesian_2d(0.0..max * 1.05, 0..rows)
            .map_err(failed)?;
        let names: Vec<&str> = bars.iter().map(|b| b.endpoint.as_str()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows as usize + 1)
            .y_label_formatter(&|y| match usize::try_from(*y) {
                Ok(row) if row % 2 == 0 => names
                    .get(row / 2)
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc("USD per month")
            .draw()
            .map_err(failed)?;
        for (i, bar) in bars.iter().enumerate() {
            let y = 2 * i as i32;
            chart
                .draw_series([
                    Rectangle::new(
                        [(0.0, y), (bar.serverless, y + 1)],
                        SERVERLESS_COLOUR.filled(),
                    ),
                    Rectangle::new([(0.0, y + 1), (bar.now, y + 2)], NOW_COLOUR.filled()),
                ])
                .map_err(failed)?;
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// Each candidate's serverless cost as a share of its cost now, against
/// its traffic as a multiple of today's: a line through today's point
/// (serverless cost grows with traffic; the instance's does not), which
/// crosses the break-even line (100%) where it would stop saving.
pub fn break_even(candidates: &[BreakEven]) -> Drawn {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let ratios: Vec<f64> = candidates
            .iter()
            .map(|c| c.serverless / c.now)
            .filter(|r| r.is_finite() && *r > 0.0)
            .collect();
        let smallest = ratios.iter().copied().fold(1.0, f64::min);
        let (x_max, y_min) = (
            10f64.powf((1.0 / smallest).log10().ceil() + 1.0),
            smallest / 10.0,
        );
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d((0.1..x_max).log_scale(), (y_min..10.0).log_scale())
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_desc("traffic, as a multiple of today's")
            .y_desc("serverless cost / cost now")
            .x_label_formatter(&|x| format!("{x}x"))
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .draw()
            .map_err(failed)?;
        chart
            .draw_series(LineSeries::new(
                [(0.1, 1.0), (x_max, 1.0)],
                BLACK.stroke_width(2),
            ))
            .map_err(failed)?
            .label("break-even");
        for (i, ratio) in ratios.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    [(0.1, ratio * 0.1), (x_max, ratio * x_max)],
                    colour.stroke_width(1),
                ))
                .map_err(failed)?;
            chart
                .draw_series([Circle::new((1.0, *ratio), 5, SERVERLESS_COLOUR.filled())])
                .map_err(failed)?;
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// The estimated monthly saving of each of the last sweeps, oldest first.
pub fn saving_history(points: &[SavingPoint]) -> Drawn {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let max = points.iter().map(|p| p.saving).fold(1.0, f64::max);
        let n = points.len().max(2) as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n - 0.5, 0.0..max * 1.1)
            .map_err(failed)?;
        let labels: Vec<&str> = points.iter().map(|p| p.label.as_str()).collect();
        chart
            .configure_mesh()
            .x_labels(points.len().clamp(1, 8))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels
                        .get(i as usize)
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("USD per month")
            .draw()
            .map_err(failed)?;
        let series: Vec<(f64, f64)> = points
            .iter()
            .enumerate()
            .map(|(i, p)| (i as f64, p.saving))
            .collect();
        chart
            .draw_series(LineSeries::new(
                series.clone(),
                SAVING_COLOUR.stroke_width(2),
            ))
            .map_err(failed)?;
        chart
            .draw_series(
                series
                    .into_iter()
                    .map(|p| Circle::new(p, 4, SAVING_COLOUR.filled())),
            )
            .map_err(failed)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

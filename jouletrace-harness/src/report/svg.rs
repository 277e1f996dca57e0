//! Chart geometry for the HTML report.
//!
//! Charts are computed here as plain shapes (rectangles, lines, circles, texts) with their
//! coordinates already formatted, and drawn by the template. Keeping markup out of Rust means
//! every label — candidate names included — goes through tera's escaping, and the template
//! never needs `| safe`.

use serde::Serialize;

use super::numbers as num;

/// Distinct, colour-blind-friendly hues; candidates keep their colour across a problem's charts.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

pub fn color(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

#[derive(Debug, Default, Serialize)]
pub struct Chart {
    pub width: u32,
    pub height: u32,
    /// What the chart shows, for screen readers (`aria-label`).
    pub label: String,
    /// Drawn first, beneath everything else.
    pub grid: Vec<Line>,
    pub rects: Vec<Rect>,
    pub lines: Vec<Line>,
    pub polylines: Vec<Polyline>,
    pub circles: Vec<Circle>,
    pub texts: Vec<Text>,
}

#[derive(Debug, Serialize)]
pub struct Rect {
    pub x: String,
    pub y: String,
    pub w: String,
    pub h: String,
    pub class: &'static str,
    pub fill: Option<&'static str>,
    pub title: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Line {
    pub x1: String,
    pub y1: String,
    pub x2: String,
    pub y2: String,
    pub class: &'static str,
    pub stroke: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct Polyline {
    pub points: String,
    pub class: &'static str,
    pub stroke: &'static str,
    /// `stroke-dasharray`: tells apart the case families of one candidate.
    pub dash: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct Circle {
    pub cx: String,
    pub cy: String,
    pub r: String,
    pub class: &'static str,
    pub fill: Option<&'static str>,
    pub title: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Text {
    pub x: String,
    pub y: String,
    pub anchor: &'static str,
    pub class: &'static str,
    pub text: String,
}

fn c(v: f64) -> String {
    format!("{v:.1}")
}

impl Chart {
    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, class: &'static str) -> &mut Rect {
        self.rects.push(Rect {
            x: c(x),
            y: c(y),
            w: c(w.max(0.0)),
            h: c(h.max(0.0)),
            class,
            fill: None,
            title: None,
        });
        self.rects.last_mut().expect("just pushed")
    }

    fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), class: &'static str) {
        let below = class.starts_with("grid") || class == "sep";
        let list = if below {
            &mut self.grid
        } else {
            &mut self.lines
        };
        list.push(Line {
            x1: c(x1),
            y1: c(y1),
            x2: c(x2),
            y2: c(y2),
            class,
            stroke: None,
        });
    }

    fn colored_line(
        &mut self,
        a: (f64, f64),
        b: (f64, f64),
        class: &'static str,
        stroke: &'static str,
    ) {
        self.line(a, b, class);
        self.lines.last_mut().expect("just pushed").stroke = Some(stroke);
    }

    fn text(&mut self, x: f64, y: f64, anchor: &'static str, class: &'static str, text: String) {
        self.texts.push(Text {
            x: c(x),
            y: c(y),
            anchor,
            class,
            text,
        });
    }

    fn circle(&mut self, cx: f64, cy: f64, r: f64, class: &'static str) -> &mut Circle {
        self.circles.push(Circle {
            cx: c(cx),
            cy: c(cy),
            r: c(r),
            class,
            fill: None,
            title: None,
        });
        self.circles.last_mut().expect("just pushed")
    }
}

/// A "nice" step (1, 2 or 5 × 10^k) giving about `target` intervals over `range`.
fn nice_step(range: f64, target: f64) -> f64 {
    if range <= 0.0 || !range.is_finite() {
        return 1.0;
    }
    let raw = range / target;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// `100 µJ` rather than `100.0 µJ`: tick labels need no trailing zeros.
fn tick_label(value: f64, unit: &str) -> String {
    let s = num::si(value, unit);
    let (mantissa, rest) = s.split_once(' ').unwrap_or((&s, ""));
    let mantissa = if mantissa.contains('.') {
        mantissa.trim_end_matches('0').trim_end_matches('.')
    } else {
        mantissa
    };
    format!("{mantissa} {rest}")
}

/// Left margin that fits the longest label (an estimate: no font metrics without a browser).
pub fn label_margin<'a>(labels: impl Iterator<Item = &'a str>) -> f64 {
    let longest = labels.map(|l| l.chars().count()).max().unwrap_or(0) as f64;
    (longest * 7.2 + 18.0).clamp(70.0, 230.0)
}

/// Shortens a label to what the margin holds.
fn fit(label: &str, margin: f64) -> String {
    let max = ((margin - 18.0) / 7.2).floor().max(4.0) as usize;
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let cut: String = label.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

pub struct Bar<'a> {
    pub name: &'a str,
    pub color: &'static str,
    pub point: f64,
    pub lower: f64,
    pub upper: f64,
    /// Shown at the end of the bar: `111.3 µJ`.
    pub label: String,
    /// Tooltip.
    pub title: String,
}

/// Horizontal bars of energy per call with the interval as whiskers, on a linear axis from 0.
/// `left` is the label margin ([`label_margin`]), shared by a problem's charts so they align.
pub fn bar_chart(bars: &[Bar<'_>], left: f64, unit: &str, axis_title: String) -> Chart {
    const WIDTH: f64 = 1000.0;
    const ROW: f64 = 28.0;
    const BAR: f64 = 18.0;
    const TOP: f64 = 10.0;
    const RIGHT: f64 = 130.0;
    let plot_w = WIDTH - left - RIGHT;
    let max = bars
        .iter()
        .map(|b| b.upper.max(b.point))
        .fold(0.0_f64, f64::max);
    let step = nice_step(max, 5.0);
    let top_tick = (max / step).ceil().max(1.0) * step;
    let x = |v: f64| left + (v / top_tick).clamp(0.0, 1.0) * plot_w;
    let plot_h = ROW * bars.len() as f64;
    let height = TOP + plot_h + 44.0;
    let mut chart = Chart {
        width: WIDTH as u32,
        height: height as u32,
        ..Chart::default()
    };
    let ticks = (top_tick / step).round() as usize;
    for k in 0..=ticks {
        let t = k as f64 * step;
        let xt = x(t);
        chart.line((xt, TOP), (xt, TOP + plot_h), "grid");
        chart.text(
            xt,
            TOP + plot_h + 16.0,
            "middle",
            "tick",
            tick_label(t, unit),
        );
    }
    for (i, b) in bars.iter().enumerate() {
        let y = TOP + i as f64 * ROW + (ROW - BAR) / 2.0;
        let mid = y + BAR / 2.0;
        let r = chart.rect(left, y, (x(b.point) - left).max(1.0), BAR, "bar");
        r.fill = Some(b.color);
        r.title = Some(b.title.clone());
        chart.line((x(b.lower), mid), (x(b.upper), mid), "whisker");
        chart.line((x(b.lower), mid - 5.0), (x(b.lower), mid + 5.0), "whisker");
        chart.line((x(b.upper), mid - 5.0), (x(b.upper), mid + 5.0), "whisker");
        chart.text(left - 8.0, mid + 4.0, "end", "name", fit(b.name, left));
        chart.text(
            x(b.upper.max(b.point)) + 8.0,
            mid + 4.0,
            "start",
            "value",
            b.label.clone(),
        );
    }
    chart.line((left, TOP), (left, TOP + plot_h), "axis");
    chart.text(
        left + plot_w / 2.0,
        height - 6.0,
        "middle",
        "axis-title",
        axis_title,
    );
    chart
}

pub struct Distribution<'a> {
    pub name: &'a str,
    pub color: &'static str,
    pub median: f64,
    /// Per-sample energy per call, with the outlier flag.
    pub samples: Vec<(f64, bool)>,
    /// Right-hand summary: `median 111.3 µJ · CV 1.2% · 12 samples`.
    pub summary: String,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// One row per candidate: every sample as a dot over a box plot, on a shared axis of deviation
/// from the candidate's own median. Candidates can differ a hundredfold in energy; their noise
/// is what this chart compares, so each is centred on itself.
pub fn distribution_chart(rows: &[Distribution<'_>], left: f64, axis_title: String) -> Chart {
    const WIDTH: f64 = 1000.0;
    const ROW: f64 = 34.0;
    const TOP: f64 = 8.0;
    const RIGHT: f64 = 250.0;
    let plot_w = WIDTH - left - RIGHT;
    let dev = |v: f64, m: f64| if m != 0.0 { (v / m - 1.0) * 100.0 } else { 0.0 };
    let widest = rows
        .iter()
        .flat_map(|r| r.samples.iter().map(move |(v, _)| dev(*v, r.median).abs()))
        .fold(0.0_f64, f64::max);
    let range = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]
        .into_iter()
        .find(|r| *r >= widest)
        .unwrap_or(widest.ceil());
    let x = |pct: f64| left + ((pct + range) / (2.0 * range)).clamp(0.0, 1.0) * plot_w;
    let plot_h = ROW * rows.len() as f64;
    let height = TOP + plot_h + 44.0;
    let mut chart = Chart {
        width: WIDTH as u32,
        height: height as u32,
        ..Chart::default()
    };
    for k in -2..=2 {
        let pct = range * k as f64 / 2.0;
        let class = if k == 0 { "axis" } else { "grid" };
        chart.line((x(pct), TOP), (x(pct), TOP + plot_h), class);
        let label = if k == 0 {
            "median".to_string()
        } else {
            format!("{:+}%", pct)
        };
        chart.text(x(pct), TOP + plot_h + 16.0, "middle", "tick", label);
    }
    for (i, row) in rows.iter().enumerate() {
        let mid = TOP + i as f64 * ROW + ROW / 2.0;
        if i > 0 {
            chart.line(
                (left, mid - ROW / 2.0),
                (left + plot_w, mid - ROW / 2.0),
                "sep",
            );
        }
        let mut devs: Vec<f64> = row
            .samples
            .iter()
            .filter(|(_, outlier)| !outlier)
            .map(|(v, _)| dev(*v, row.median))
            .collect();
        devs.sort_by(f64::total_cmp);
        if !devs.is_empty() {
            let (q1, q3) = (quantile(&devs, 0.25), quantile(&devs, 0.75));
            let (lo, hi) = (devs[0], devs[devs.len() - 1]);
            chart.colored_line((x(lo), mid), (x(q1), mid), "box-whisker", row.color);
            chart.colored_line((x(q3), mid), (x(hi), mid), "box-whisker", row.color);
            let r = chart.rect(x(q1), mid - 9.0, (x(q3) - x(q1)).max(1.5), 18.0, "box");
            r.fill = Some(row.color);
            chart.colored_line(
                (x(0.0), mid - 9.0),
                (x(0.0), mid + 9.0),
                "box-median",
                row.color,
            );
        }
        for (j, (v, outlier)) in row.samples.iter().enumerate() {
            // Deterministic jitter, so identical runs render identical pages.
            let jitter = ((j * 7) % 11) as f64 - 5.0;
            let class = if *outlier { "dot outlier" } else { "dot" };
            let circle = chart.circle(x(dev(*v, row.median)), mid + jitter, 3.0, class);
            circle.fill = Some(row.color);
            circle.title = Some(format!(
                "{}: sample {} — {:+.2}% from the median{}",
                row.name,
                j + 1,
                dev(*v, row.median),
                if *outlier { " (outlier, kept)" } else { "" }
            ));
        }
        chart.text(left - 8.0, mid + 4.0, "end", "name", fit(row.name, left));
        chart.text(
            left + plot_w + 12.0,
            mid + 4.0,
            "start",
            "value",
            row.summary.clone(),
        );
    }
    chart.text(
        left + plot_w / 2.0,
        height - 6.0,
        "middle",
        "axis-title",
        axis_title,
    );
    chart
}

pub struct Point {
    pub size: u64,
    pub point: f64,
    pub lower: f64,
    pub upper: f64,
    pub title: String,
}

/// One line of the scaling chart: one candidate on one family of cases.
pub struct Series {
    /// `kmp`, or `kmp · text` when the problem has several case families.
    pub name: String,
    pub color: &'static str,
    /// The family's index among the problem's families: its dash pattern.
    pub family: usize,
    pub points: Vec<Point>,
}

/// Dash patterns for the case families of a problem, solid first.
const DASHES: [Option<&str>; 4] = [None, Some("7 4"), Some("2 3"), Some("10 3 2 3")];

/// A logarithmic axis that ends near the data: a small margin beyond the smallest and largest
/// value, not the next power of ten (sizes 1,001–100,001 end near 100k, not at 1M).
struct LogAxis {
    lo: f64,
    hi: f64,
}

impl LogAxis {
    fn of(values: &[f64]) -> LogAxis {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min).log10();
        let hi = values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
            .log10();
        let pad = ((hi - lo) * 0.04).max(0.05);
        LogAxis {
            lo: lo - pad,
            hi: hi + pad,
        }
    }

    /// Where 0..1 of the axis falls for `v`.
    fn fraction(&self, v: f64) -> f64 {
        (v.max(1e-300).log10() - self.lo) / (self.hi - self.lo)
    }

    /// Labelled ticks: the powers of ten inside the axis, with 2× and 5× added when fewer than
    /// three powers of ten fall inside; and the grid lines between them.
    fn ticks(&self) -> (Vec<f64>, Vec<f64>) {
        let inside = |v: f64| {
            let l = v.log10();
            l >= self.lo - 1e-9 && l <= self.hi + 1e-9
        };
        let first = self.lo.floor() as i32;
        let last = self.hi.ceil() as i32;
        let decades: Vec<f64> = (first..=last)
            .map(|d| 10f64.powi(d))
            .filter(|v| inside(*v))
            .collect();
        let mut minor = Vec::new();
        let mut labelled = decades.clone();
        for d in first..=last {
            for m in 2..10 {
                let v = 10f64.powi(d) * m as f64;
                if !inside(v) {
                    continue;
                }
                if decades.len() < 3 && (m == 2 || m == 5) {
                    labelled.push(v);
                } else {
                    minor.push(v);
                }
            }
        }
        labelled.sort_by(f64::total_cmp);
        (labelled, minor)
    }
}

/// Energy per call against input size, both axes logarithmic: a straight line of slope 1 is
/// linear growth, slope 2 quadratic.
pub fn scaling_chart(series: &[Series], unit: &str, axis_title: String) -> Option<Chart> {
    const WIDTH: f64 = 1000.0;
    const HEIGHT: f64 = 420.0;
    const LEFT: f64 = 78.0;
    const RIGHT: f64 = 170.0;
    const TOP: f64 = 30.0;
    const BOTTOM: f64 = 50.0;
    let points = || series.iter().flat_map(|s| s.points.iter());
    let sizes: Vec<f64> = points()
        .filter(|p| p.size > 0)
        .map(|p| p.size as f64)
        .collect();
    let distinct = {
        let mut s: Vec<u64> = points().map(|p| p.size).filter(|s| *s > 0).collect();
        s.sort_unstable();
        s.dedup();
        s.len()
    };
    if distinct < 2 {
        return None;
    }
    let energies: Vec<f64> = points()
        .flat_map(|p| [p.lower, p.upper, p.point])
        .filter(|e| *e > 0.0)
        .collect();
    if energies.is_empty() {
        return None;
    }
    let xa = LogAxis::of(&sizes);
    let ya = LogAxis::of(&energies);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |v: f64| LEFT + xa.fraction(v) * plot_w;
    let y = |v: f64| TOP + plot_h - ya.fraction(v) * plot_h;
    let mut chart = Chart {
        width: WIDTH as u32,
        height: HEIGHT as u32,
        ..Chart::default()
    };
    let (x_ticks, x_minor) = xa.ticks();
    for v in x_minor {
        chart.line((x(v), TOP), (x(v), TOP + plot_h), "grid-minor");
    }
    for v in x_ticks {
        chart.line((x(v), TOP), (x(v), TOP + plot_h), "grid");
        chart.text(
            x(v),
            TOP + plot_h + 18.0,
            "middle",
            "tick",
            num::size(v.round() as u64),
        );
    }
    let (y_ticks, y_minor) = ya.ticks();
    for v in y_minor {
        chart.line((LEFT, y(v)), (LEFT + plot_w, y(v)), "grid-minor");
    }
    for v in y_ticks {
        chart.line((LEFT, y(v)), (LEFT + plot_w, y(v)), "grid");
        chart.text(LEFT - 8.0, y(v) + 4.0, "end", "tick", tick_label(v, unit));
    }
    chart.line((LEFT, TOP), (LEFT, TOP + plot_h), "axis");
    chart.line((LEFT, TOP + plot_h), (LEFT + plot_w, TOP + plot_h), "axis");
    for s in series {
        let mut pts: Vec<&Point> = s
            .points
            .iter()
            .filter(|p| p.size > 0 && p.point > 0.0)
            .collect();
        pts.sort_by_key(|p| p.size);
        if pts.len() >= 2 {
            chart.polylines.push(Polyline {
                points: pts
                    .iter()
                    .map(|p| format!("{},{}", c(x(p.size as f64)), c(y(p.point))))
                    .collect::<Vec<_>>()
                    .join(" "),
                class: "series",
                stroke: s.color,
                dash: DASHES[s.family % DASHES.len()],
            });
        }
        if let Some(last) = pts.last() {
            // Name each line at its end: the legend is far away once the page scrolls.
            chart.text(
                x(last.size as f64) + 8.0,
                y(last.point) + 4.0,
                "start",
                "name",
                s.name.clone(),
            );
        }
        for p in pts {
            let px = x(p.size as f64);
            chart.colored_line(
                (px, y(p.lower)),
                (px, y(p.upper)),
                "whisker-series",
                s.color,
            );
            let circle = chart.circle(px, y(p.point), 4.0, "point");
            circle.fill = Some(s.color);
            circle.title = Some(p.title.clone());
        }
    }
    chart.text(
        LEFT + plot_w / 2.0,
        HEIGHT - 8.0,
        "middle",
        "axis-title",
        "input size (log scale)".into(),
    );
    chart.text(LEFT - 8.0, TOP - 14.0, "start", "axis-title", axis_title);
    Some(chart)
}

/// A small inline strip: the change's interval against the ±threshold band around zero.
pub fn change_strip(
    point: f64,
    lower: f64,
    upper: f64,
    threshold: f64,
    span: f64,
    class: &'static str,
) -> Chart {
    const W: f64 = 180.0;
    const H: f64 = 22.0;
    let x = |v: f64| ((v + span) / (2.0 * span)).clamp(0.0, 1.0) * (W - 8.0) + 4.0;
    let mut chart = Chart {
        width: W as u32,
        height: H as u32,
        ..Chart::default()
    };
    chart.rect(
        x(-threshold),
        3.0,
        x(threshold) - x(-threshold),
        H - 6.0,
        "band",
    );
    chart.line((x(0.0), 2.0), (x(0.0), H - 2.0), "zero");
    chart.line((x(lower), H / 2.0), (x(upper), H / 2.0), class);
    chart.circle(x(point), H / 2.0, 3.5, class);
    chart.label = format!(
        "change {} (interval {}) against a ±{:.0}% threshold",
        num::percent_signed(point),
        num::percent_range(lower, upper),
        threshold * 100.0
    );
    chart
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_are_1_2_5() {
        assert_eq!(nice_step(10.0, 5.0), 2.0);
        assert_eq!(nice_step(0.0007, 5.0), 0.0002);
        assert_eq!(nice_step(100.0, 5.0), 20.0);
    }

    #[test]
    fn tick_labels_drop_trailing_zeros() {
        assert_eq!(tick_label(1e-4, "J"), "100 µJ");
        assert_eq!(tick_label(0.0, "J"), "0 J");
        assert_eq!(tick_label(2.5e-3, "J"), "2.5 mJ");
    }

    #[test]
    fn one_size_gives_no_scaling_chart() {
        let series = [Series {
            name: "a".into(),
            color: color(0),
            family: 0,
            points: vec![Point {
                size: 10,
                point: 1.0,
                lower: 0.9,
                upper: 1.1,
                title: String::new(),
            }],
        }];
        assert!(scaling_chart(&series, "J", String::new()).is_none());
    }

    #[test]
    fn log_axes_end_near_the_data() {
        // Issue 12: sizes 1,001–100,001 drew an axis up to 1M.
        let axis = LogAxis::of(&[1001.0, 100_001.0]);
        assert!(10f64.powf(axis.hi) < 150_000.0, "{}", 10f64.powf(axis.hi));
        assert!(10f64.powf(axis.lo) > 700.0, "{}", 10f64.powf(axis.lo));
        let (ticks, _) = axis.ticks();
        assert_eq!(ticks, [1_000.0, 10_000.0, 100_000.0]);
        // Less than a decade of data still gets labelled ticks.
        let (ticks, _) = LogAxis::of(&[3e-6, 9e-6]).ticks();
        assert!(ticks.len() >= 2, "{ticks:?}");
    }
}

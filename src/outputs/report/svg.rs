//! Inline SVG charts, drawn with maud: horizontal bars and lines. Geometry
//! uses floats; every label is formatted by the caller from exact amounts and
//! escaped by maud where it is spliced, like any other value of the page.
//!
//! maud has no self-closing form: `<rect>`, `<line>` and `<polyline>` are
//! written with an end tag (`<rect …></rect>`), which inline SVG in HTML
//! parses exactly as `<rect …/>`.

use maud::{Markup, html};

/// One bar: its label, its length, the text written after it and a tooltip.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub value_label: String,
    pub tooltip: String,
}

const LABEL_CHARS: usize = 30;

fn shorten(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let cut: String = label.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// A whole number of pixels (sizes of the drawing).
fn n0(v: f64) -> String {
    format!("{v:.0}")
}

/// A coordinate to a tenth of a pixel.
fn n1(v: f64) -> String {
    format!("{v:.1}")
}

/// Horizontal bar chart, one row per bar, longest value = full width.
pub fn bar_chart(title: &str, bars: &[Bar]) -> Markup {
    let row = 24.0;
    let label_w = 240.0;
    let value_w = 150.0;
    let bar_w = 290.0;
    let width = label_w + bar_w + value_w;
    let height = row * bars.len().max(1) as f64 + 8.0;
    let max = bars.iter().map(|b| b.value).fold(0.0_f64, f64::max);
    let bar_width = |b: &Bar| {
        if max > 0.0 {
            (b.value.max(0.0) / max * bar_w).max(if b.value > 0.0 { 1.5 } else { 0.0 })
        } else {
            0.0
        }
    };
    html! {
        svg class="chart bars" role="img" viewBox={ "0 0 " (n0(width)) " " (n0(height)) }
            width=(n0(width)) height=(n0(height)) preserveAspectRatio="xMinYMin meet"
            aria-label=(title) {
            title { (title) }
            @if bars.is_empty() {
                text x="4" y="18" class="muted" { "No findings." }
            }
            @for (i, b) in bars.iter().enumerate() {
                @let y = 4.0 + row * i as f64;
                @let w = bar_width(b);
                g {
                    title { (b.tooltip) }
                    text x=(n1(label_w - 8.0)) y=(n1(y + row * 0.62)) class="label" text-anchor="end" {
                        (shorten(&b.label, LABEL_CHARS))
                    }
                    rect x=(n1(label_w)) y=(n1(y + 3.0)) width=(n1(w)) height=(n1(row - 6.0)) rx="2" class="bar" {}
                    text x=(n1(label_w + w + 6.0)) y=(n1(y + row * 0.62)) class="value" { (b.value_label) }
                }
            }
        }
    }
}

/// One line of a line chart.
pub struct Series {
    pub name: String,
    /// CSS class giving the colour (`s1`, `s2`, `s3`).
    pub class: &'static str,
    pub values: Vec<f64>,
}

/// A line chart over shared x labels (dates), y from 0 to a round maximum.
pub fn line_chart(title: &str, x_labels: &[String], series: &[Series]) -> Markup {
    let width = 620.0;
    let height = 250.0;
    let (left, right, top, bottom) = (64.0, 16.0, 30.0, 36.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0_f64, f64::max);
    let (top_value, step) = nice_scale(max);
    let n = x_labels.len();
    let x_of = |i: usize| {
        if n <= 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y_of = |v: f64| top + plot_h - plot_h * (v / top_value).clamp(0.0, 1.0);

    // Grid lines: 0, step, … up to the top.
    let mut grid = Vec::new();
    let mut v = 0.0;
    while v <= top_value + step / 2.0 {
        grid.push(v);
        v += step;
    }
    // X labels: at most ~6, always the first and the last, none crowding it.
    let every = n.div_ceil(6).max(1);
    let x_ticks: Vec<(usize, &String, &str)> = x_labels
        .iter()
        .enumerate()
        .filter(|(i, _)| *i + 1 == n || (i % every == 0 && n - 1 - i >= every.div_ceil(2)))
        .map(|(i, label)| {
            let anchor = match i {
                _ if n == 1 => "middle",
                0 => "start",
                _ if i + 1 == n => "end",
                _ => "middle",
            };
            (i, label, anchor)
        })
        .collect();
    let points = |line: &Series| -> String {
        line.values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x_of(i), y_of(*v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Legend: one swatch and name after another.
    let mut legend = Vec::new();
    let mut x = left;
    for line in series {
        legend.push((x, line));
        x += 26.0 + 7.0 * line.name.chars().count() as f64;
    }

    html! {
        svg class="chart lines" role="img" viewBox={ "0 0 " (n0(width)) " " (n0(height)) }
            width=(n0(width)) height=(n0(height)) preserveAspectRatio="xMinYMin meet"
            aria-label=(title) {
            title { (title) }
            @for v in &grid {
                @let y = y_of(*v);
                line x1=(n1(left)) y1=(n1(y)) x2=(n1(width - right)) y2=(n1(y)) class="grid" {}
                text x=(n1(left - 6.0)) y=(n1(y + 4.0)) class="axis" text-anchor="end" { (compact(*v)) }
            }
            @for (i, label, anchor) in &x_ticks {
                text x=(n1(x_of(*i))) y=(n1(height - bottom + 18.0)) class="axis" text-anchor=(anchor) {
                    (label)
                }
            }
            @for line in series {
                polyline class={ "line " (line.class) } points=(points(line)) {}
                @for (i, v) in line.values.iter().enumerate() {
                    circle class={ "dot " (line.class) } cx=(n1(x_of(i))) cy=(n1(y_of(*v))) r="3" {
                        title {
                            (line.name) ": " (compact(*v)) " on "
                            (x_labels.get(i).map(String::as_str).unwrap_or(""))
                        }
                    }
                }
            }
            @for (x, line) in &legend {
                rect x=(n1(*x)) y="6" width="12" height="12" class={ "swatch " (line.class) } {}
                text x=(n1(x + 16.0)) y="16" class="legend" { (line.name) }
            }
        }
    }
}

/// A round top for the y axis and its step (four or five gridlines).
fn nice_scale(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    ((max / step).ceil() * step, step)
}

/// 1234567 → 1.23M, 12500 → 12.5k, 12 → 12.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    let (value, suffix) = if a >= 1e9 {
        (v / 1e9, "B")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = if suffix.is_empty() && value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        let t = format!("{value:.2}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    format!("{text}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers_read_like_a_dashboard() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(12.0), "12");
        assert_eq!(compact(12_500.0), "12.5k");
        assert_eq!(compact(1_234_567.0), "1.23M");
    }

    #[test]
    fn scales_are_round() {
        assert_eq!(nice_scale(702_537.0), (800_000.0, 200_000.0));
        assert_eq!(nice_scale(45.0), (60.0, 20.0));
    }

    #[test]
    fn labels_are_escaped() {
        let svg = bar_chart(
            "t",
            &[Bar {
                label: "<script>alert(1)</script>".into(),
                value: 1.0,
                value_label: "1".into(),
                tooltip: "<b>".into(),
            }],
        );
        let svg = svg.into_string();
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
    }
}

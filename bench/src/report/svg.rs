//! A tiny SVG writer for the dashboard: a plot frame with axes, ticks, units and a legend.
//!
//! Charts are generated as text so the page needs no script and no network. Every chart has an
//! `<svg class="chart" data-chart=NAME>` root, a `<g class="axis x">` and `<g class="axis y">` with
//! labelled ticks and a unit in the title, and a `<g class="legend">`: the tests and the headless
//! browser check look for exactly these.

use std::fmt::Write;

/// Plot width in pixels (the whole SVG).
pub const WIDTH_PX: f64 = 640.0;
/// Plot height in pixels (the whole SVG).
pub const HEIGHT_PX: f64 = 340.0;
/// Space left of the plot area for y tick labels.
const MARGIN_LEFT_PX: f64 = 78.0;
/// Space right of the plot area for the legend.
const MARGIN_RIGHT_PX: f64 = 150.0;
/// Space above the plot area for the title.
const MARGIN_TOP_PX: f64 = 34.0;
/// Space below the plot area for x tick labels and the axis title.
const MARGIN_BOTTOM_PX: f64 = 52.0;

/// Series colours, assigned in order (colour-blind-safe Okabe–Ito palette).
pub const PALETTE: [&str; 8] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
];

/// Escapes text for SVG/HTML content and attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A mapping from data values to pixels along one axis.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Smallest data value shown.
    pub min: f64,
    /// Largest data value shown.
    pub max: f64,
    /// Logarithmic (base 10) when true.
    pub log: bool,
}

impl Scale {
    /// A linear scale from zero to a rounded-up `max`.
    pub fn linear_from_zero(max: f64) -> Self {
        Self {
            min: 0.0,
            max: nice_ceiling(max.max(1e-9)),
            log: false,
        }
    }

    /// A log scale covering `min..=max` in whole decades.
    pub fn log_decades(min: f64, max: f64) -> Self {
        let low = min.max(1e-9).log10().floor();
        let high = max.max(min * 10.0).log10().ceil().max(low + 1.0);
        Self {
            min: 10f64.powf(low),
            max: 10f64.powf(high),
            log: true,
        }
    }

    /// Position of `value` in 0..=1.
    pub fn fraction(&self, value: f64) -> f64 {
        let (value, min, max) = if self.log {
            (
                value.max(self.min).log10(),
                self.min.log10(),
                self.max.log10(),
            )
        } else {
            (value, self.min, self.max)
        };
        ((value - min) / (max - min)).clamp(0.0, 1.0)
    }

    /// Tick values: five linear steps, or one per decade.
    pub fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (low, high) = (
                self.min.log10().round() as i32,
                self.max.log10().round() as i32,
            );
            (low..=high).map(|e| 10f64.powi(e)).collect()
        } else {
            (0..=5)
                .map(|i| self.min + (self.max - self.min) * f64::from(i) / 5.0)
                .collect()
        }
    }
}

/// Rounds up to 1, 2, 2.5 or 5 times a power of ten.
pub fn nice_ceiling(value: f64) -> f64 {
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|step| step * power)
        .find(|candidate| *candidate >= value)
        .unwrap_or(10.0 * power)
}

/// Short tick label: `950`, `12k`, `1.5M`, `0.5`.
pub fn tick_label(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e6 {
        format!("{}M", trim(value / 1e6))
    } else if magnitude >= 1e3 {
        format!("{}k", trim(value / 1e3))
    } else {
        trim(value)
    }
}

fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// One SVG chart being written.
pub struct Chart {
    /// The SVG text so far.
    out: String,
}

impl Chart {
    /// Opens a chart named `name` (the `data-chart` attribute) with a title.
    pub fn new(name: &str, title: &str) -> Self {
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg class=\"chart\" data-chart=\"{name}\" xmlns=\"http://www.w3.org/2000/svg\" \
             viewBox=\"0 0 {WIDTH_PX} {HEIGHT_PX}\" width=\"{WIDTH_PX}\" height=\"{HEIGHT_PX}\" \
             role=\"img\" aria-label=\"{t}\"><title>{t}</title>\
             <text class=\"title\" x=\"{x}\" y=\"20\" text-anchor=\"middle\">{t}</text>",
            name = escape(name),
            t = escape(title),
            x = WIDTH_PX / 2.0,
        );
        Self { out }
    }

    /// Left edge of the plot area.
    pub fn left(&self) -> f64 {
        MARGIN_LEFT_PX
    }

    /// Width of the plot area.
    pub fn plot_width(&self) -> f64 {
        WIDTH_PX - MARGIN_LEFT_PX - MARGIN_RIGHT_PX
    }

    /// Pixel y of a 0..=1 fraction (0 at the bottom).
    pub fn y_px(&self, fraction: f64) -> f64 {
        HEIGHT_PX - MARGIN_BOTTOM_PX - fraction * (HEIGHT_PX - MARGIN_TOP_PX - MARGIN_BOTTOM_PX)
    }

    /// Pixel x of a 0..=1 fraction (0 at the left).
    pub fn x_px(&self, fraction: f64) -> f64 {
        MARGIN_LEFT_PX + fraction * self.plot_width()
    }

    /// Appends raw SVG elements.
    pub fn push(&mut self, svg: &str) {
        self.out.push_str(svg);
    }

    /// Draws the y axis with grid lines, tick labels and the axis title (which carries the unit).
    pub fn y_axis(&mut self, scale: &Scale, title: &str) {
        let mut axis = String::from("<g class=\"axis y\">");
        let (x0, x1) = (self.x_px(0.0), self.x_px(1.0));
        let _ = write!(
            axis,
            "<line x1=\"{x0}\" y1=\"{}\" x2=\"{x0}\" y2=\"{}\" stroke=\"#333\"/>",
            self.y_px(0.0),
            self.y_px(1.0)
        );
        for tick in scale.ticks() {
            let y = self.y_px(scale.fraction(tick));
            let _ = write!(
                axis,
                "<line x1=\"{x0}\" y1=\"{y:.1}\" x2=\"{x1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                x0 - 6.0,
                y + 4.0,
                tick_label(tick)
            );
        }
        let middle = self.y_px(0.5);
        let _ = write!(
            axis,
            "<text class=\"axis-title\" transform=\"translate(16 {middle:.1}) rotate(-90)\" \
             text-anchor=\"middle\">{}</text></g>",
            escape(title)
        );
        self.out.push_str(&axis);
    }

    /// Draws the x axis with labelled ticks at 0..=1 fractions and the axis title (with unit).
    pub fn x_axis(&mut self, ticks: &[(f64, String)], title: &str) {
        let y0 = self.y_px(0.0);
        let mut axis = String::from("<g class=\"axis x\">");
        let _ = write!(
            axis,
            "<line x1=\"{}\" y1=\"{y0}\" x2=\"{}\" y2=\"{y0}\" stroke=\"#333\"/>",
            self.x_px(0.0),
            self.x_px(1.0)
        );
        for (fraction, label) in ticks {
            let x = self.x_px(*fraction);
            let _ = write!(
                axis,
                "<line x1=\"{x:.1}\" y1=\"{y0}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#333\"/>\
                 <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                y0 + 5.0,
                y0 + 18.0,
                escape(label)
            );
        }
        let _ = write!(
            axis,
            "<text class=\"axis-title\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>",
            self.x_px(0.5),
            HEIGHT_PX - 10.0,
            escape(title)
        );
        self.out.push_str(&axis);
    }

    /// Draws the legend: one swatch and label per entry (`(label, colour, dashed)`).
    pub fn legend(&mut self, entries: &[(String, String, bool)]) {
        let x = WIDTH_PX - MARGIN_RIGHT_PX + 14.0;
        let mut legend = String::from("<g class=\"legend\">");
        for (index, (label, colour, dashed)) in entries.iter().enumerate() {
            let y = MARGIN_TOP_PX + 10.0 + 18.0 * index as f64;
            let dash = if *dashed {
                " stroke-dasharray=\"4 3\""
            } else {
                ""
            };
            let _ = write!(
                legend,
                "<line x1=\"{x}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{colour}\" stroke-width=\"6\"{dash}/>\
                 <text x=\"{}\" y=\"{}\">{}</text>",
                x + 16.0,
                x + 22.0,
                y + 4.0,
                escape(label)
            );
        }
        if entries.is_empty() {
            let _ = write!(
                legend,
                "<text x=\"{x}\" y=\"{}\">(no series)</text>",
                MARGIN_TOP_PX + 14.0
            );
        }
        legend.push_str("</g>");
        self.out.push_str(&legend);
    }

    /// Writes a centred note over the plot area (used when a chart has no data).
    pub fn note(&mut self, text: &str) {
        let _ = write!(
            self.out,
            "<text class=\"note\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            self.x_px(0.5),
            self.y_px(0.5),
            escape(text)
        );
    }

    /// Closes the chart and returns its SVG.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_and_labels() {
        assert_eq!(nice_ceiling(1234.0), 2000.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
        assert_eq!(tick_label(125_000.0), "125k");
        assert_eq!(tick_label(2_500_000.0), "2.5M");
        assert_eq!(tick_label(0.5), "0.5");
        let log = Scale::log_decades(30.0, 4000.0);
        assert_eq!((log.min, log.max), (10.0, 10_000.0));
        assert_eq!(log.ticks(), vec![10.0, 100.0, 1000.0, 10_000.0]);
        assert!((log.fraction(100.0) - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(escape("a<b&\"c\""), "a&lt;b&amp;&quot;c&quot;");
    }
}

//! Charts drawn on the server as SVG, by hand: a line chart or a grouped bar chart with axes,
//! tick labels, a legend and an accessible `<title>`/`<desc>`. Only SVG presentation
//! attributes (`fill=`, `stroke=`), never `style=`, so the Content-Security-Policy holds and
//! no script is needed. Every text is escaped here; the result goes into the page with
//! [`super::layout::trusted`].

use std::fmt::Write as _;

/// How the values are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Line,
    Bars,
}

/// One named series: a value per label.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// A chart to draw.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Unique on the page (used for the `aria-labelledby` ids).
    pub id: String,
    pub kind: ChartKind,
    pub title: String,
    pub desc: String,
    /// The x-axis labels (one per value of each series).
    pub labels: Vec<String>,
    pub series: Vec<Series>,
    /// Shown instead of the plot when there is nothing to draw.
    pub empty_text: String,
}

/// Colours for up to six series (readable on white, distinct for common colour blindness).
const COLORS: [&str; 6] = [
    "#1f6fb2", "#d9822b", "#2e8540", "#8e44ad", "#c0392b", "#7f8c8d",
];

const W: f64 = 720.0;
const H: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 48.0;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A "nice" axis maximum and tick step for values up to `max` (1, 2 or 5 × 10ⁿ steps).
pub fn nice_scale(max: f64) -> (f64, f64) {
    if !max.is_finite() || max <= 0.0 {
        return (1.0, 1.0);
    }
    let rough = max / 5.0;
    let mag = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * mag);
    // Counts are whole: never a step below 1.
    let step = step.max(1.0);
    ((max / step).ceil() * step, step)
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

impl Chart {
    fn is_empty(&self) -> bool {
        self.labels.is_empty()
            || self
                .series
                .iter()
                .all(|s| s.values.iter().all(|v| *v == 0.0 || !v.is_finite()))
    }

    /// The chart as an SVG element.
    pub fn render(&self) -> String {
        let id = esc(&self.id);
        let mut s = String::new();
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart-svg\" viewBox=\"0 0 {W} {H}\" \
             width=\"{W}\" height=\"{H}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\">\
             <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
            esc(&self.title),
            esc(&self.desc)
        );
        let _ = write!(
            s,
            "<rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#ffffff\"/>"
        );
        if self.is_empty() {
            let _ = write!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"16\" fill=\"#555555\" \
                 class=\"chart-empty\">{}</text></svg>",
                W / 2.0,
                H / 2.0,
                esc(&self.empty_text)
            );
            return s;
        }
        let plot_w = W - LEFT - RIGHT;
        let plot_h = H - TOP - BOTTOM;
        let max = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let (top, step) = nice_scale(max);
        let y_of = |v: f64| TOP + plot_h - (v.max(0.0) / top) * plot_h;
        // Grid lines and y ticks.
        let mut v = 0.0;
        while v <= top + step / 2.0 {
            let y = y_of(v);
            let _ = write!(
                s,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e0e0e0\" stroke-width=\"1\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\" fill=\"#333333\">{}</text>",
                LEFT + plot_w,
                LEFT - 6.0,
                y + 4.0,
                fmt_num(v)
            );
            v += step;
        }
        // Axes.
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{:.1}\" stroke=\"#333333\" stroke-width=\"1\"/>\
             <line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#333333\" stroke-width=\"1\"/>",
            TOP + plot_h,
            TOP + plot_h,
            LEFT + plot_w,
            TOP + plot_h
        );
        let n = self.labels.len();
        let slot = plot_w / n as f64;
        let x_mid = |i: usize| LEFT + slot * (i as f64 + 0.5);
        // X labels: at most about twelve, evenly spaced.
        let every = n.div_ceil(12).max(1);
        for (i, label) in self.labels.iter().enumerate() {
            if i % every != 0 && i != n - 1 {
                continue;
            }
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#333333\">{}</text>",
                x_mid(i),
                TOP + plot_h + 16.0,
                esc(label)
            );
        }
        match self.kind {
            ChartKind::Bars => {
                let groups = self.series.len().max(1) as f64;
                let bar_w = (slot * 0.8 / groups).max(1.0);
                for (si, ser) in self.series.iter().enumerate() {
                    let color = COLORS[si % COLORS.len()];
                    for (i, v) in ser.values.iter().enumerate().take(n) {
                        let x = LEFT + slot * i as f64 + slot * 0.1 + bar_w * si as f64;
                        let y = y_of(*v);
                        let _ = write!(
                            s,
                            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" fill=\"{color}\">\
                             <title>{} {}: {}</title></rect>",
                            (TOP + plot_h - y).max(0.0),
                            esc(&self.labels[i]),
                            esc(&ser.name),
                            fmt_num(*v)
                        );
                    }
                }
            }
            ChartKind::Line => {
                for (si, ser) in self.series.iter().enumerate() {
                    let color = COLORS[si % COLORS.len()];
                    let points: Vec<String> = ser
                        .values
                        .iter()
                        .enumerate()
                        .take(n)
                        .map(|(i, v)| format!("{:.1},{:.1}", x_mid(i), y_of(*v)))
                        .collect();
                    let _ = write!(
                        s,
                        "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
                        points.join(" ")
                    );
                    for (i, v) in ser.values.iter().enumerate().take(n) {
                        let _ = write!(
                            s,
                            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"><title>{} {}: {}</title></circle>",
                            x_mid(i),
                            y_of(*v),
                            esc(&self.labels[i]),
                            esc(&ser.name),
                            fmt_num(*v)
                        );
                    }
                }
            }
        }
        // Legend along the top.
        let mut x = LEFT;
        for (si, ser) in self.series.iter().enumerate() {
            let color = COLORS[si % COLORS.len()];
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"12\" width=\"12\" height=\"12\" fill=\"{color}\"/>\
                 <text x=\"{:.1}\" y=\"22\" font-size=\"12\" fill=\"#333333\">{}</text>",
                x + 16.0,
                esc(&ser.name)
            );
            x += 16.0 + 7.0 * super::export::display_width(&ser.name) as f64 + 20.0;
        }
        s.push_str("</svg>");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(kind: ChartKind, values: Vec<f64>) -> Chart {
        Chart {
            id: "c1".into(),
            kind,
            title: "每日扫码 <进出>".into(),
            desc: "按日统计".into(),
            labels: vec!["12-01".into(), "12-02".into(), "12-03".into()],
            series: vec![
                Series {
                    name: "进".into(),
                    values: values.clone(),
                },
                Series {
                    name: "出".into(),
                    values,
                },
            ],
            empty_text: "该时段暂无数据".into(),
        }
    }

    #[test]
    fn line_chart_has_axes_ticks_legend_and_accessible_names() {
        let svg = chart(ChartKind::Line, vec![3.0, 7.0, 12.0]).render();
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("<title id=\"c1-title\">每日扫码 &lt;进出&gt;</title>"));
        assert!(svg.contains("<desc id=\"c1-desc\">按日统计</desc>"));
        assert!(svg.contains("aria-labelledby=\"c1-title c1-desc\""));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">12-02</text>"));
        // y ticks: max 12 → 0, 5, 10, 15
        assert!(svg.contains(">15</text>"), "{svg}");
        assert!(svg.contains(">进</text>") && svg.contains(">出</text>"));
        assert!(!svg.contains("style="));
        assert!(!svg.contains("该时段暂无数据"));
    }

    #[test]
    fn bar_chart_draws_one_bar_per_value_and_series() {
        let svg = chart(ChartKind::Bars, vec![1.0, 0.0, 4.0]).render();
        assert_eq!(svg.matches("<rect").count(), 1 + 6 + 2, "{svg}");
        assert!(svg.contains("<title>12-03 进: 4</title>"));
        assert!(!svg.contains("style="));
    }

    #[test]
    fn empty_chart_says_so() {
        let svg = chart(ChartKind::Bars, vec![0.0, 0.0, 0.0]).render();
        assert!(svg.contains("该时段暂无数据"));
        assert!(!svg.contains("<polyline") && !svg.contains("<line"));
        let mut c = chart(ChartKind::Line, vec![]);
        c.labels.clear();
        assert!(c.render().contains("该时段暂无数据"));
    }

    #[test]
    fn scales_are_nice() {
        assert_eq!(nice_scale(12.0), (15.0, 5.0));
        assert_eq!(nice_scale(3.0), (3.0, 1.0));
        assert_eq!(nice_scale(980.0), (1000.0, 200.0));
        assert_eq!(nice_scale(0.0), (1.0, 1.0));
    }
}

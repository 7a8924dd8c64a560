//! The risk report: one self-contained HTML file (inline SVG plots, inline CSS, no scripts, no
//! network) that a privacy officer can read, keep and sign. It holds column names, counts and
//! ratios, never a value from the data.

use std::fmt::Write as _;

use plotters::prelude::*;

use crate::metrics::{RiskSummary, figure_rows};

/// What the report is about.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    pub title: &'a str,
    pub input: &'a str,
    pub quasi_identifiers: &'a [String],
    pub sensitive: Option<&'a str>,
    pub tool_version: &'a str,
    pub created: &'a str,
    /// The table as it is.
    pub before: &'a RiskSummary,
    /// The table after a transformation, with what was done.
    pub after: Option<(&'a RiskSummary, &'a Transformation)>,
}

/// The generalization chosen by a search, for the report.
#[derive(Debug, Clone)]
pub struct Transformation {
    /// (QI, chosen level, highest level).
    pub levels: Vec<(String, u8, u8)>,
    pub criteria: String,
    pub suppressed_records: u64,
    pub suppression_limit: u64,
    pub loss: f64,
}

fn escape(s: &str) -> String {
    airlock_core::shown::html(s)
}

/// Records per class-size bucket: 1, 2, 3, 4, 5-9, 10-19, 20-49, 50-99, 100+.
const BUCKETS: [(u32, u32, &str); 9] = [
    (1, 1, "1"),
    (2, 2, "2"),
    (3, 3, "3"),
    (4, 4, "4"),
    (5, 9, "5-9"),
    (10, 19, "10-19"),
    (20, 49, "20-49"),
    (50, 99, "50-99"),
    (100, u32::MAX, "100+"),
];

fn records_by_bucket(s: &RiskSummary) -> Vec<u64> {
    BUCKETS
        .iter()
        .map(|(lo, hi, _)| {
            s.class_sizes
                .range(*lo..=*hi)
                .map(|(size, classes)| u64::from(*size) * classes)
                .sum()
        })
        .collect()
}

/// A bar chart of records per class size (and so per prosecutor risk 1/size), as SVG.
fn class_size_chart(series: &[(&str, &RiskSummary, RGBColor)]) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 320)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let data: Vec<Vec<u64>> = series
            .iter()
            .map(|(_, s, _)| records_by_bucket(s))
            .collect();
        let max = data.iter().flatten().copied().max().unwrap_or(1).max(1);
        let n = BUCKETS.len() as u32;
        let chart = ChartBuilder::on(&root)
            .caption("records by size of their class", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((0u32..n - 1).into_segmented(), 0u64..max + max / 10 + 1);
        let Ok(mut chart) = chart else {
            return svg_fallback();
        };
        let _ = chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("class size (prosecutor risk = 1 / size)")
            .y_desc("records")
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => BUCKETS
                    .get(*i as usize)
                    .map(|b| b.2.to_owned())
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .draw();
        let width = series.len().max(1) as u32;
        for (k, ((label, _, color), values)) in series.iter().zip(&data).enumerate() {
            let color = *color;
            let bars = values.iter().enumerate().map(move |(i, &v)| {
                let x0 = SegmentValue::Exact(i as u32);
                let x1 = SegmentValue::Exact(i as u32 + 1);
                let mut bar = Rectangle::new([(x0, 0u64), (x1, v)], color.mix(0.75).filled());
                // Side by side: each series gets its share of the ~60-pixel segment.
                let share = 56 / width;
                bar.set_margin(
                    0,
                    0,
                    3 + share * k as u32,
                    3 + share * (width - 1 - k as u32),
                );
                bar
            });
            if let Ok(drawn) = chart.draw_series(bars) {
                drawn.label(label.to_string()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
            }
        }
        let _ = chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperMiddle)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw();
        let _ = root.present();
    }
    svg
}

/// Bars of the chosen level of each QI against its highest level.
fn levels_chart(t: &Transformation) -> String {
    let mut svg = String::new();
    {
        let height = 60 + 28 * t.levels.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (720, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let n = t.levels.len() as u32;
        let chart = ChartBuilder::on(&root)
            .caption(
                "generalization per quasi-identifier (share of its hierarchy)",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(160)
            .build_cartesian_2d(0f64..1.0, (0u32..n.max(1) - 1).into_segmented());
        let Ok(mut chart) = chart else {
            return svg_fallback();
        };
        let names: Vec<String> = t
            .levels
            .iter()
            .map(|(q, l, m)| format!("{q} ({l}/{m})"))
            .collect();
        let _ = chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw();
        let _ = chart.draw_series(t.levels.iter().enumerate().map(|(i, (_, l, m))| {
            let share = if *m == 0 {
                0.0
            } else {
                f64::from(*l) / f64::from(*m)
            };
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i as u32)),
                    (share, SegmentValue::Exact(i as u32 + 1)),
                ],
                RGBColor(70, 110, 180).filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            bar
        }));
        let _ = root.present();
    }
    svg
}

fn svg_fallback() -> String {
    "<p>(plot unavailable)</p>".into()
}

fn metrics_table(columns: &[(&str, &RiskSummary)]) -> String {
    let mut t = String::from("<table><tr><th>figure</th>");
    for (h, _) in columns {
        let _ = write!(t, "<th>{}</th>", escape(h));
    }
    t.push_str("</tr>");
    let summaries: Vec<&RiskSummary> = columns.iter().map(|(_, s)| *s).collect();
    for (label, values) in figure_rows(&summaries) {
        let _ = write!(t, "<tr><td>{}</td>", escape(&label));
        for v in values {
            let _ = write!(t, "<td class=n>{}</td>", escape(&v));
        }
        t.push_str("</tr>");
    }
    t.push_str("</table>");
    t
}

/// The report as one HTML document.
pub fn render(r: &ReportInput<'_>) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #bbb;padding:4px 10px}}\
         td.n{{text-align:right;font-variant-numeric:tabular-nums}}th{{background:#eef}}\
         .sign td{{height:2.2em;min-width:14em}}.meta td:first-child{{color:#555}}</style></head><body>\
         <h1>{title}</h1>",
        title = escape(r.title)
    );
    let _ = write!(
        h,
        "<table class=meta><tr><td>input</td><td>{}</td></tr><tr><td>quasi-identifiers</td><td>{}</td></tr>\
         <tr><td>sensitive attribute</td><td>{}</td></tr><tr><td>created</td><td>{}</td></tr>\
         <tr><td>tool</td><td>airlock {}</td></tr></table>",
        escape(r.input),
        escape(&r.quasi_identifiers.join(", ")),
        escape(r.sensitive.unwrap_or("none")),
        escape(r.created),
        escape(r.tool_version)
    );
    h.push_str("<h2>Risk figures</h2>");
    match r.after {
        Some((after, t)) => {
            h.push_str(&metrics_table(&[("before", r.before), ("after", after)]));
            let _ = write!(
                h,
                "<h2>Transformation</h2><p>Criteria: {}. Suppressed {} records (limit {}). \
                 Loss (ARX generalization intensity) {:.6}.</p>",
                escape(&t.criteria),
                t.suppressed_records,
                t.suppression_limit,
                t.loss
            );
            h.push_str(&levels_chart(t));
            h.push_str(&class_size_chart(&[
                ("before", r.before, RGBColor(200, 90, 70)),
                ("after", after, RGBColor(70, 110, 180)),
            ]));
        }
        None => {
            h.push_str(&metrics_table(&[("table", r.before)]));
            h.push_str(&class_size_chart(&[(
                "table",
                r.before,
                RGBColor(200, 90, 70),
            )]));
        }
    }
    h.push_str(
        "<h2>Definitions</h2><p>A class is a group of records with the same quasi-identifier values. \
         A record's prosecutor risk is 1 / the size of its class; the average is classes / records. \
         Suppressed records are left out of the figures. Distinct l is the fewest sensitive values in \
         a class; t is the largest distance (half the L1 distance) between a class's sensitive \
         distribution and the whole table's.</p>\
         <h2>Review</h2><table class=sign><tr><td>reviewed by</td><td></td></tr>\
         <tr><td>role</td><td></td></tr><tr><td>date</td><td></td></tr><tr><td>decision</td><td></td></tr>\
         <tr><td>signature</td><td></td></tr></table></body></html>\n",
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn summary() -> RiskSummary {
        RiskSummary {
            records: 10,
            suppressed_records: 0,
            classes: 3,
            k: 2,
            sample_uniques: 0,
            sample_uniques_fraction: 0.0,
            average_prosecutor_risk: 0.3,
            maximum_prosecutor_risk: 0.5,
            risk_threshold: 0.2,
            records_above_threshold: 2,
            fraction_above_threshold: 0.2,
            marketer_risk: 0.3,
            l_distinct: None,
            l_entropy: None,
            t_equal: None,
            t_ordered: None,
            t_hierarchical: None,
            discernibility: 0.0,
            class_sizes: BTreeMap::from([(2, 1), (3, 1), (5, 1)]),
        }
    }

    #[test]
    fn report_is_self_contained_and_escapes_names() {
        let s = summary();
        let qis = vec!["zip<script>".to_owned()];
        let html = render(&ReportInput {
            title: "risk",
            input: "a&b.csv",
            quasi_identifiers: &qis,
            sensitive: None,
            tool_version: "0.1.0",
            created: "today",
            before: &s,
            after: None,
        });
        assert!(html.contains("<svg"));
        assert!(html.contains("zip&lt;script&gt;") && !html.contains("<script"));
        assert!(html.contains("a&amp;b.csv"));
        assert!(!html.contains("<link") && !html.contains("src="));
        assert!(html.contains("reviewed by"));
    }

    #[test]
    fn buckets_count_records_not_classes() {
        assert_eq!(
            records_by_bucket(&summary()),
            vec![0, 2, 3, 0, 5, 0, 0, 0, 0]
        );
    }
}

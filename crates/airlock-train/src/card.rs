//! The model card: one self-contained HTML page (no scripts, no external resources) and the
//! same facts as JSON in the model file. Data lineage (the table's SHA-256, its manifest's
//! policy when there is one), the privacy spent and how it was accounted, utility on the
//! held-out rows, the membership attack, canary exposure, the subgroup table with its largest gaps and a chart,
//! intended use and known limits.

use std::fmt::Write;

use airlock_core::shown::html;

use crate::{ModelFile, Subgroup};

/// What the card says beyond the model file.
#[derive(Debug, Clone, Default)]
pub struct CardContext {
    /// The data as the user named it (shown escaped).
    pub data: String,
    /// The policy of the de-identification run that made the data, from its manifest.
    pub policy_sha256: Option<String>,
    pub intended_use: Option<String>,
}

/// The largest gap of a rate between subgroups of one column.
fn gaps(groups: &[Subgroup]) -> Vec<(String, &'static str, f64)> {
    let mut out = Vec::new();
    let mut columns: Vec<&str> = groups.iter().map(|g| g.column.as_str()).collect();
    columns.dedup();
    for c in columns {
        let of = |f: &dyn Fn(&Subgroup) -> Option<f64>| {
            let v: Vec<f64> = groups
                .iter()
                .filter(|g| g.column == c)
                .filter_map(f)
                .collect();
            (v.len() >= 2).then(|| {
                v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                    - v.iter().copied().fold(f64::INFINITY, f64::min)
            })
        };
        for (name, gap) in [
            ("accuracy", of(&|g| Some(g.accuracy))),
            ("TPR", of(&|g| g.tpr)),
            ("FPR", of(&|g| g.fpr)),
            ("AUC", of(&|g| g.auc)),
        ] {
            if let Some(gap) = gap {
                out.push((c.to_owned(), name, gap));
            }
        }
    }
    out
}

/// A horizontal bar chart of TPR and FPR per subgroup, as inline SVG.
fn chart(groups: &[Subgroup]) -> String {
    let rows: Vec<&Subgroup> = groups.iter().filter(|g| g.tpr.is_some()).collect();
    if rows.is_empty() {
        return String::new();
    }
    let (label_w, bar_w, row_h) = (230.0, 360.0, 26.0);
    let height = rows.len() as f64 * row_h + 30.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" role="img" aria-label="TPR and FPR per subgroup">"#,
        label_w + bar_w + 60.0
    );
    for (i, g) in rows.iter().enumerate() {
        let y = 20.0 + i as f64 * row_h;
        let tpr = g.tpr.unwrap_or(0.0);
        let fpr = g.fpr.unwrap_or(0.0);
        let _ = write!(
            s,
            r##"<text x="0" y="{:.1}" font-size="12">{}={}</text><rect x="{label_w}" y="{:.1}" width="{:.1}" height="9" fill="#3a6ea5"/><rect x="{label_w}" y="{:.1}" width="{:.1}" height="9" fill="#c0504d"/><text x="{:.1}" y="{:.1}" font-size="10">TPR {tpr:.2} FPR {fpr:.2}</text>"##,
            y + 9.0,
            html(&g.column),
            html(&g.value),
            y,
            tpr * bar_w,
            y + 10.0,
            fpr * bar_w,
            label_w + bar_w + 4.0,
            y + 12.0,
        );
    }
    s.push_str("</svg>");
    s
}

/// The card as HTML.
pub fn html_card(file: &ModelFile, ctx: &CardContext) -> String {
    let mut s = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>airlock model card</title>\
         <style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;color:#222}\
         table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}\
         .muted{color:#666}</style></head><body><h1>Model card</h1>",
    );
    let model = match file.model.kind {
        crate::ModelKind::Logreg => "softmax (logistic) regression".to_owned(),
        crate::ModelKind::Mlp { hidden } => format!("MLP, one hidden ReLU layer of {hidden}"),
    };
    let _ = write!(
        s,
        "<h2>Model</h2><table><tr><th>model</th><td>{}</td></tr><tr><th>target</th><td>{}</td></tr>\
         <tr><th>classes</th><td>{}</td></tr><tr><th>features</th><td>{} columns, {} inputs</td></tr></table>",
        html(&model),
        html(&file.encoding.target),
        html(&file.encoding.classes.join(", ")),
        file.encoding.features.len(),
        file.model.inputs,
    );
    let _ = write!(
        s,
        "<h2>Data and lineage</h2><table><tr><th>data</th><td>{}</td></tr><tr><th>SHA-256</th><td><code>{}</code></td></tr>\
         <tr><th>de-identification policy</th><td>{}</td></tr></table>",
        html(&ctx.data),
        html(&file.data_sha256),
        ctx.policy_sha256.as_deref().map_or_else(
            || "no manifest beside the data".to_owned(),
            |p| format!("<code>{}</code>", html(p))
        ),
    );
    s.push_str("<h2>Privacy</h2>");
    match &file.privacy {
        Some(p) => {
            let f = |k: &str| p.get(k).map_or_else(String::new, |v| html(&v.to_string()));
            let _ = write!(
                s,
                "<table><tr><th>epsilon</th><td>{}</td></tr><tr><th>delta</th><td>{}</td></tr>\
                 <tr><th>noise multiplier</th><td>{}</td></tr><tr><th>sampling rate</th><td>{}</td></tr>\
                 <tr><th>steps</th><td>{}</td></tr><tr><th>clipping norm</th><td>{}</td></tr>\
                 <tr><th>accountant</th><td>{} of the Poisson-subsampled Gaussian (as Google's dp-accounting computes it)</td></tr>\
                 <tr><th>noise</th><td>{}</td></tr></table>",
                f("epsilon"), f("delta"), f("noise_multiplier"), f("sampling_rate"), f("steps"), f("clip"),
                match p.get("accountant").and_then(serde_json::Value::as_str) {
                    Some("pld") => "privacy loss distribution (connect-the-dots, interval 1e-4)",
                    _ => "Rényi DP (default orders)",
                },
                match p.get("noise").and_then(serde_json::Value::as_str) {
                    Some("os") => "drawn from the operating system's random source",
                    _ => "drawn from a seeded generator: anyone who knows the seed can reproduce it (a test or audit run, not a release)",
                },
            );
        }
        None => s.push_str("<p><strong>No differential privacy.</strong> This model was trained without DP-SGD.</p>"),
    }
    let m = &file.metrics;
    let num = |k: &str| {
        m.get(k)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(f64::NAN)
    };
    let _ = write!(
        s,
        "<h2>Utility (held-out rows)</h2><table><tr><th>accuracy</th><td>{:.4}</td></tr><tr><th>AUC</th><td>{:.4}</td></tr>\
         <tr><th>rows</th><td>{} trained, {} held out</td></tr></table>",
        num("accuracy"),
        num("auc"),
        num("train_rows"),
        num("test_rows"),
    );
    let _ = write!(
        s,
        "<h2>Membership inference</h2><p>A loss-threshold attack on {} rows (half trained on, half held out): \
         AUC {:.3}, attacker's advantage {:.3} (0.5 and 0: no better than chance).</p>",
        file.membership.rows, file.membership.auc, file.membership.advantage
    );
    match &file.canaries {
        Some(c) => {
            let _ = write!(
                s,
                "<h2>Memorization (canaries)</h2><p>{} canary records (random feature values, random class) were inserted                  {} time(s) each into the training rows; each is ranked by the model's loss among {} records drawn the same                  way and never trained on (The Secret Sharer's exposure). Mean exposure {:.2} bits, largest {:.2};                  a model that learned nothing of them scores {:.2} on average, one that memorized them up to {:.0}.</p>",
                c.canaries, c.repeats, c.candidates, c.mean, c.max, c.chance, c.max_possible
            );
        }
        None => s.push_str(
            "<h2>Memorization (canaries)</h2><p class=\"muted\">No canaries were inserted (train with --canaries N to measure exposure).</p>",
        ),
    }
    if !file.subgroups.is_empty() {
        s.push_str("<h2>Subgroups (held-out rows)</h2><table><tr><th>column</th><th>value</th><th>rows</th><th>accuracy</th><th>AUC</th><th>TPR</th><th>FPR</th><th>calibration gap</th></tr>");
        let opt = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.3}"));
        for g in &file.subgroups {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html(&g.column),
                html(&g.value),
                g.rows,
                g.accuracy,
                opt(g.auc),
                opt(g.tpr),
                opt(g.fpr),
                opt(g.calibration_gap),
            );
        }
        s.push_str("</table><h3>Largest gaps</h3><ul>");
        for (c, what, gap) in gaps(&file.subgroups) {
            let _ = write!(
                s,
                "<li>{}: {what} differs by {gap:.3} between subgroups</li>",
                html(&c)
            );
        }
        let _ = write!(s, "</ul>{}", chart(&file.subgroups));
        let _ = write!(
            s,
            "<p class=\"muted\">Subgroups with fewer than {} held-out rows are not shown.</p>",
            crate::MIN_SUBGROUP
        );
    }
    let _ = writeln!(
        s,
        "<h2>Intended use</h2><p>{}</p><h2>Known limits</h2><ul>\
         <li>Epsilon covers the model's parameters. The feature encoding (category lists, means and standard deviations) is computed from the training rows without noise and is part of the model file.</li>\
         <li>The held-out split comes from the same table: it says nothing about other populations, sites or times.</li>\
         <li>The membership attack is one simple attack; a stronger one may do better.</li></ul>\
         <p class=\"muted\">Written by airlock {}.</p></body></html>",
        ctx.intended_use
            .as_deref()
            .map_or_else(|| "Not stated (give --intended-use).".to_owned(), html),
        env!("CARGO_PKG_VERSION"),
    );
    s
}

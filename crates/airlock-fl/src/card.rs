//! The federated model's card (HTML): what was trained, by which sites, over which rounds,
//! under which spec, the client-level epsilon spent round by round, and the sites that looked
//! unlike the federation. Never a value of the data: names of sites and features, counts,
//! hashes, numbers.

use std::fmt::Write;

use airlock_core::shown::html;
use airlock_train::model::ModelKind;

use crate::coordinator::FederatedModel;

/// The card as HTML.
pub fn html_card(m: &FederatedModel) -> String {
    let mut s = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>airlock federated model card</title>\
         <style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;color:#222}\
         table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}\
         .muted{color:#666}</style></head><body><h1>Federated model card</h1>",
    );
    let model = match m.model.kind {
        ModelKind::Logreg => "softmax (logistic) regression".to_owned(),
        ModelKind::Mlp { hidden } => format!("MLP, one hidden ReLU layer of {hidden}"),
    };
    let _ = write!(
        s,
        "<h2>Model</h2><table><tr><th>model</th><td>{}</td></tr><tr><th>target</th><td>{}</td></tr>\
         <tr><th>classes</th><td>{}</td></tr><tr><th>features</th><td>{} columns, {} inputs</td></tr>\
         <tr><th>federation spec</th><td><code>{}</code></td></tr>\
         <tr><th>sites</th><td>{}</td></tr></table>",
        html(&model),
        html(&m.encoding.target),
        html(&m.encoding.classes.join(", ")),
        m.encoding.features.len(),
        m.model.inputs,
        html(&m.spec_sha256),
        html(&m.sites.join(", ")),
    );
    s.push_str("<h2>Privacy</h2>");
    match &m.privacy {
        Some(p) => {
            let _ = write!(
                s,
                "<p>Client-level differential privacy (each site's whole update is the unit \
                 protected): epsilon <b>{}</b> at delta {}, noise multiplier {}, update norm \
                 bound {}, RDP accountant over {} rounds. The coordinator saw only the sum of \
                 the sites' masked updates (secure aggregation).</p>",
                p["epsilon"]
                    .as_f64()
                    .map_or_else(|| "-".into(), |e| format!("{e:.3}")),
                p["delta"],
                p["noise_multiplier"]
                    .as_f64()
                    .map_or_else(|| "-".into(), |e| format!("{e:.4}")),
                p["clip"],
                p["rounds"],
            );
        }
        None => s.push_str(
            "<p>No differential privacy: the model's parameters may reveal facts about the sites' \
             rows. Secure aggregation, where the spec asks for it, hides each site's update from \
             the coordinator, not from whoever holds the model.</p>",
        ),
    }
    s.push_str(
        "<h2>Rounds</h2><table><tr><th>round</th><th>kind</th><th>outcome</th><th>sites</th>\
         <th>dropped</th><th>epsilon</th><th>aggregate SHA-256</th></tr>",
    );
    for r in &m.rounds {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            r.round,
            r.kind,
            html(&r.outcome),
            html(&r.sites.join(", ")),
            html(&r.dropped.join(", ")),
            r.epsilon.map_or_else(|| "-".into(), |e| format!("{e:.3}")),
            html(
                r.update_sha256
                    .as_deref()
                    .map_or("-", |h| &h[..16.min(h.len())])
            ),
        );
    }
    s.push_str("</table><h2>Site drift</h2>");
    if m.drift.is_empty() {
        s.push_str("<p class=\"muted\">No drift round.</p>");
    } else {
        s.push_str(
            "<table><tr><th>site</th><th>largest PSI</th><th>feature</th><th>flagged</th></tr>",
        );
        for (site, d) in &m.drift {
            let worst = d.iter().max_by(|a, b| a.psi.total_cmp(&b.psi));
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html(site),
                worst.map_or_else(|| "-".into(), |w| format!("{:.3}", w.psi)),
                html(worst.map_or("", |w| w.feature.as_str())),
                if m.flagged.contains(site) {
                    "yes"
                } else {
                    "no"
                },
            );
        }
        s.push_str(
            "</table><p class=\"muted\">Each site computed its PSI on its own machine \
                    from its histogram and the federation's, which the coordinator learned only \
                    as a secure sum.</p>",
        );
    }
    s.push_str("</body></html>\n");
    s
}

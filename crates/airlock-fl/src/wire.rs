//! The messages between the coordinator and the sites (JSON over mutual TLS). A site is who
//! its certificate says: no message carries a site's own claim of who it is that the
//! coordinator believes.

use serde::{Deserialize, Serialize};

use crate::round::Phase;
use crate::secagg::{Advert, Envelope, Quantizer, Reveal, SiteId};
use crate::sitedrift::FeatureDistance;
use crate::spec::Spec;
use crate::task::RoundKind;

/// The routes.
pub const POLL: &str = "/v1/fl/poll";
pub const ADVERT: &str = "/v1/fl/advert";
pub const SHARES: &str = "/v1/fl/shares";
pub const MASKED: &str = "/v1/fl/masked";
pub const REVEAL: &str = "/v1/fl/reveal";

/// The round as one site sees it (what it needs for its next step, nothing of its peers but
/// their public keys and the envelopes addressed to it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct View {
    /// Changes whenever the round moves on (long-poll with `?after=`).
    pub version: u64,
    /// This site, as its certificate names it.
    pub site: SiteId,
    pub name: String,
    /// The federation is over: the site may stop.
    pub done: bool,
    pub round: u64,
    pub kind: RoundKind,
    pub phase: Phase,
    pub spec: Spec,
    pub spec_sha256: String,
    /// The global model's parameters at the start of this round.
    pub model: Vec<f64>,
    /// The federation's binned feature counts, once the drift round is over.
    pub federation_histogram: Option<Vec<f64>>,
    /// After the adverts phase: every site's public keys, and the fixed-point range.
    pub adverts: Vec<Advert>,
    pub quantizer: Option<Quantizer>,
    /// After the shares phase: who shared (U2), and the shares addressed to this site.
    pub u2: Vec<SiteId>,
    pub envelopes: Vec<Envelope>,
    /// After the inputs: whose input arrived (U3).
    pub u3: Vec<SiteId>,
}

/// A site joins a round.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvertMsg {
    pub round: u64,
    pub spec_sha256: String,
    pub c_public: [u8; 32],
    pub s_public: [u8; 32],
    /// How far the site's data is from the federation's (after the drift round): one PSI per
    /// feature, no count.
    pub drift: Option<Vec<FeatureDistance>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharesMsg {
    pub round: u64,
    pub envelopes: Vec<Envelope>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskedMsg {
    pub round: u64,
    pub y: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealMsg {
    pub round: u64,
    pub reveals: Vec<Reveal>,
}

/// What a round left: the coordinator's log (`rounds.jsonl`) and its audit events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    pub round: u64,
    pub kind: RoundKind,
    /// `done` or `aborted`.
    pub outcome: String,
    /// Why it aborted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    pub spec_sha256: String,
    /// The sites whose input is in the aggregate (U3), by name.
    pub sites: Vec<String>,
    /// The sites that joined but whose input is not in it (dropped out).
    pub dropped: Vec<String>,
    /// SHA-256 of the aggregate (the mean update's values, little-endian f64).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub update_sha256: Option<String>,
    /// What the coordinator received from each site in the inputs phase: the SHA-256 of the
    /// vector (little-endian u64), masked under secure aggregation. A site can check it
    /// against what it sent; no one can read an update from it.
    #[serde(default)]
    pub received: std::collections::BTreeMap<String, String>,
    /// Client-level epsilon spent after this round (DP only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub epsilon: Option<f64>,
    pub seconds: f64,
}

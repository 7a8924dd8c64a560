//! Command-line arguments (clap). Plain values only; each command turns them into the
//! libraries' validated configuration.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use airlock_core::table::Format;

/// airlock: turn protected health information into data that is safe for AI work, and prove it.
#[derive(Debug, Parser)]
#[command(name = "airlock", version, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 ok, 1 findings or a gate failed, 2 usage or input error.\n\
Start with `airlock demo`, then `airlock profile YOUR.csv -o policy.toml`."
)]
pub struct Cli {
    /// Print one JSON object on stdout instead of text
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Where the governance server is, and how to prove who you are to it. With a server set,
/// every vault, approve, retention, keys, audit and lineage command is its client: the server
/// holds the keys, authenticates you and decides. Without one, those commands run in
/// single-user local mode, which enforces nothing against a person who holds the workspace
/// secret.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The airlock server (https://HOST:PORT); API keys come from AIRLOCK_API_KEY and OIDC
    /// tokens from AIRLOCK_TOKEN only
    #[arg(long, env = "AIRLOCK_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// The workspace CA's certificate (ca.pem from `airlock ca init`), the one root trusted
    #[arg(long, env = "AIRLOCK_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Your client certificate (from `airlock ca issue`)
    #[arg(long, env = "AIRLOCK_CERT", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert
    #[arg(long, env = "AIRLOCK_CERT_KEY", value_name = "FILE")]
    pub cert_key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a synthetic hospital extract, plant canary patients, de-identify it, scan and
    /// canary-check everything written, print a summary
    Demo(DemoArgs),
    /// Create a workspace in a directory: .airlock/ with the secret (0600), the vault catalog,
    /// the audit log and access rules
    Init(InitArgs),
    /// Draft a policy from a sample of a table: class, action, confidence and evidence per column
    Profile(ProfileArgs),
    /// De-identify a table (CSV, JSONL or Parquet) under a policy
    Deid(DeidArgs),
    /// Measure re-identification risk over quasi-identifiers (k, uniques, prosecutor risk, l, t)
    Risk(RiskArgs),
    /// Find the least-lossy generalization that meets k / l / t / average risk, and write it
    Anonymize(AnonymizeArgs),
    /// De-identify free text (clinical notes, letters, reports): stdin to stdout by default
    #[command(subcommand)]
    Text(TextCommand),
    /// Residual-PHI scan of files and trees: tables, JSON, notebooks, logs and other text
    Scan(ScanArgs),
    /// Score the free-text detector against a gold corpus
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Canary patients: plant synthetic patients in raw data, then prove no trace of them
    /// reached any output, log or report
    #[command(subcommand)]
    Canary(CanaryCommand),
    /// FHIR R4 de-identification (resources, Bundles, bulk NDJSON)
    #[command(subcommand)]
    Fhir(FhirCommand),
    /// DICOM de-identification (PS3.15 Annex E Basic Profile and options)
    #[command(subcommand)]
    Dicom(DicomCommand),
    /// Encrypted zones for datasets: put, get, ls, deid, promote, shred (every operation
    /// audited). With --server / AIRLOCK_SERVER, a client of `airlock serve`; without, the
    /// single-user local mode, which enforces nothing against whoever holds the secret
    #[command(subcommand)]
    Vault(VaultCommand),
    /// The tamper-evident audit log: verify it, show it, export its public key
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Signed lineage of outputs: verify a statement, or walk an output back to its raw data
    #[command(subcommand)]
    Lineage(LineageCommand),
    /// Approve a dataset's promotion into staging or prod (one approval per actor)
    Approve {
        /// The dataset id
        dataset: String,
        /// The zone it may enter
        #[arg(long)]
        to: String,
        #[command(flatten)]
        who: ActorArgs,
    },
    /// Retention: shred what has stayed in a zone longer than access.toml [retention] allows
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// The vault's key-encryption keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Run the governance server: the one process that holds the workspace's keys, authenticates
    /// people (client certificates, OIDC tokens) and services (API keys), decides and audits
    Serve(ServeArgs),
    /// The workspace's certificate authority: the server's certificate and people's client
    /// certificates (run on the server's machine, with the workspace secret)
    #[command(subcommand)]
    Ca(CaCommand),
    /// API keys for services (shown once; the catalog keeps an argon2id hash)
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// The identities the server accepts: list them, revoke one
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Differential-privacy accounting for DP-SGD: epsilon of a training run, or the noise a
    /// target epsilon needs
    #[command(subcommand)]
    Dp(DpCommand),
    /// Train a model on a table (logistic regression or a small MLP), with DP-SGD
    Train(TrainArgs),
    /// Differentially private synthetic tables (an MST-family synthesizer): fit, then sample
    #[command(subcommand)]
    Synth(SynthCommand),
    /// The training enclave: your own command on de-identified vault datasets, with no network
    /// and no file system beyond its inputs and one output folder; outputs scanned and signed
    #[command(subcommand)]
    Enclave(EnclaveCommand),
    /// An OpenAI-compatible PHI guardrail: callers authenticate, identifiers are blocked,
    /// redacted or pseudonymized before an upstream sees them and kept out of answers, every
    /// call audited (`airlock gateway --config gateway.toml`; `airlock gateway key create`)
    Gateway(GatewayArgs),
    /// Serve a model from the registry (an `airlock train` model in staging or prod): an
    /// inference log with patients as keyed tokens, clinicians' overrides, a candidate in
    /// shadow or rollout, input drift (PSI, KS) against the training data, every call audited
    ServeModel(ServeModelArgs),
    /// Federated learning: sites keep their rows and train locally; a coordinator learns only
    /// the sum of their updates (secure aggregation), over mutual TLS with certificates from
    /// the federation's CA (`airlock fl simulate` runs a whole federation on this machine)
    #[command(subcommand)]
    Fl(FlCommand),
}

#[derive(Debug, Subcommand)]
pub enum FlCommand {
    /// The federation's certificate authority: the coordinator's certificate, one per site,
    /// revocations (run by the federation's operator)
    #[command(subcommand)]
    Ca(FlCaCommand),
    /// Write the federation's spec (model, feature encoding, training, bounds, DP) fitted on a
    /// de-identified sample or schema file, and print the SHA-256 every site pins
    Spec(FlSpecArgs),
    /// Run the federation's rounds (`--config fl.toml`): FedAvg under secure aggregation, each
    /// round audited; the final model to the registry
    Coordinator(FlCoordinatorArgs),
    /// Take part as one site (`--config site.toml`): reads its dataset from this workspace's
    /// vault, trains locally, sends only (masked) updates
    Site(FlSiteArgs),
    /// A whole federation on this machine: a CA, a coordinator and N site processes on
    /// loopback, each with its own certificate and slice of the table
    Simulate(FlSimulateArgs),
}

#[derive(Debug, Subcommand)]
pub enum FlCaCommand {
    /// Create the federation CA in a folder, with the coordinator's certificate
    Init {
        /// The CA's folder (created; keep it on the coordinator's machine)
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Names and addresses the coordinator is reached at
        #[arg(long = "host", value_name = "HOST", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
        hosts: Vec<String>,
    },
    /// Issue a site its certificate (NAME.pem, NAME.key) and record it in the CA's registry
    Issue {
        /// The site's name (letters, digits and . _ - @)
        site: String,
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Where the certificate and key are written
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Revoke a site's certificates: the revocation list is rewritten and the registry marks them
    Revoke {
        site: String,
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct FlTaskArgs {
    /// The column to predict
    #[arg(long)]
    pub target: String,
    /// Binary task: this target value is the positive class
    #[arg(long)]
    pub positive: Option<String>,
    /// Feature columns (default: every column but the target)
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    #[arg(long, value_enum, default_value = "logreg")]
    pub model: ModelArg,
    /// Hidden units of the MLP
    #[arg(long, default_value_t = 32)]
    pub hidden: usize,
    /// Training rounds
    #[arg(long, default_value_t = 20)]
    pub rounds: u32,
    /// Client-level differential privacy for the whole federation (implies secure aggregation)
    #[arg(long)]
    pub epsilon: Option<f64>,
    #[arg(long, default_value_t = 1e-5)]
    pub delta: f64,
    /// Passes over a site's rows per round
    #[arg(long, default_value_t = 1.0)]
    pub local_epochs: f64,
    #[arg(long, default_value_t = 0.5)]
    pub learning_rate: f64,
    /// Each site's update is clipped to this L2 norm (client DP's sensitivity; default 10
    /// without DP, 1 with)
    #[arg(long)]
    pub clip: Option<f64>,
}

#[derive(Debug, Args)]
pub struct FlSpecArgs {
    /// A de-identified sample or schema file of the federation's table (fixes categories and
    /// scaling; no row of it goes into the spec)
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    #[command(flatten)]
    pub task: FlTaskArgs,
    /// Sites a round needs (also secure aggregation's threshold)
    #[arg(long, default_value_t = 3)]
    pub min_sites: usize,
    /// Send updates as they are instead of under secure aggregation
    #[arg(long)]
    pub no_secure_agg: bool,
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct FlCoordinatorArgs {
    /// fl.toml: spec, ca, listen, out, phase_timeout_s, join_timeout_s, model_name
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    #[command(flatten)]
    pub workspace: WorkspaceArg,
    /// Write the URL it listens on to this file once it is listening
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FlSiteArgs {
    /// site.toml: coordinator, ca, cert, key, spec_sha256, dataset, role, purpose
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// (for `fl simulate --kill-site`) stop before sending the input in this round
    #[arg(long, hide = true, value_name = "ROUND")]
    pub hold_in_round: Option<u64>,
    #[command(flatten)]
    pub workspace: WorkspaceArg,
}

#[derive(Debug, Args)]
pub struct FlSimulateArgs {
    /// The table (CSV, JSONL or Parquet)
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    #[command(flatten)]
    pub task: FlTaskArgs,
    /// Each value of this column goes whole to one site
    #[arg(long, value_name = "COL")]
    pub split_by: String,
    #[arg(long, default_value_t = 5)]
    pub sites: usize,
    /// Updates under secure aggregation (the coordinator sees only masked vectors)
    #[arg(long)]
    pub secure_agg: bool,
    /// Kill site K (1-based) with SIGKILL in the middle round, after it trained and before its
    /// input went out
    #[arg(long, value_name = "K")]
    pub kill_site: Option<usize>,
    /// Keep the federation's files (CA, workspaces, logs, models) in this new folder
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeModelArgs {
    /// The serving configuration: [server], [model], [candidate], [access], [drift]
    /// (docs/GATEWAY.md)
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    #[command(flatten)]
    pub service: ServiceArgs,
}

/// What the gateway and serve-model take alike.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    #[command(flatten)]
    pub workspace: WorkspaceArg,
    /// Write the URL it listens on to this file once it is listening
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
    /// Print an access log for operators on stdout, one JSON object per call (no text, no
    /// values)
    #[arg(long)]
    pub access_log: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GatewayArgs {
    #[command(subcommand)]
    pub command: Option<GatewayCommand>,
    /// The gateway's configuration: [server], [[upstreams]], [[routes]] (docs/GATEWAY.md)
    #[arg(long, value_name = "FILE", required = false)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub service: ServiceArgs,
}

#[derive(Debug, Subcommand)]
pub enum GatewayCommand {
    /// API keys for the gateway's callers
    #[command(subcommand)]
    Key(GatewayKeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum GatewayKeyCommand {
    /// Make an API key for a caller (key:NAME), bind it to a role in access.toml's [actors]
    /// (versioned and audited) and print it once; the catalog keeps an argon2id hash
    Create {
        /// The caller's name (letters, digits and . _ - @)
        name: String,
        /// The role it acts as: the gateway's routes say which roles may use which models
        #[arg(long)]
        role: String,
        #[command(flatten)]
        workspace: WorkspaceArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModelArg {
    Logreg,
    Mlp,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("privacy").required(true).args(["epsilon", "noise_multiplier", "no_dp"])))]
pub struct TrainArgs {
    /// The table (CSV, JSONL or Parquet); a manifest beside it gates the features
    pub data: PathBuf,
    /// The column to predict
    #[arg(long)]
    pub target: String,
    /// Binary task: this target value is the positive class (else one class per value)
    #[arg(long)]
    pub positive: Option<String>,
    /// logreg (softmax regression) or mlp (one hidden ReLU layer)
    #[arg(long, value_enum, default_value_t = ModelArg::Logreg)]
    pub model: ModelArg,
    /// Hidden units of the MLP
    #[arg(long, default_value_t = 32)]
    pub hidden: usize,
    /// DP-SGD calibrated to this epsilon (at --delta)
    #[arg(long)]
    pub epsilon: Option<f64>,
    /// DP-SGD with this noise multiplier (epsilon is reported)
    #[arg(long)]
    pub noise_multiplier: Option<f64>,
    /// No differential privacy (the baseline)
    #[arg(long)]
    pub no_dp: bool,
    /// Delta of (epsilon, delta)-DP
    #[arg(long, default_value_t = 1e-5)]
    pub delta: f64,
    /// The accountant that calibrates the noise and reports epsilon: rdp or pld (tighter: less
    /// noise for the same epsilon)
    #[arg(long, value_enum, default_value_t = AccountantArg::Rdp)]
    pub accountant: AccountantArg,
    /// Passes over the training rows
    #[arg(long, default_value_t = 5.0)]
    pub epochs: f64,
    /// Expected batch size (Poisson sampling)
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Per-example gradient clipping norm
    #[arg(long, default_value_t = 1.0)]
    pub clip: f64,
    /// Learning rate (SGD)
    #[arg(long, default_value_t = 0.5)]
    pub learning_rate: f64,
    /// Seed: the same seed, data and settings give the same model, to the byte. Anyone who
    /// knows it can reproduce DP-SGD's noise: keep it secret, or leave it out (the noise then
    /// comes from the operating system's random source)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Held-out share of the rows, scored after training
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Score on this table instead (the same columns); every row of DATA is trained on
    #[arg(long, value_name = "FILE", conflicts_with = "test_fraction")]
    pub test_data: Option<PathBuf>,
    /// Feature columns, comma-separated (default: every column but the target)
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// A column the data's manifest classes as an identifier or free text, used as a feature
    /// all the same (repeatable)
    #[arg(long)]
    pub allow_feature: Vec<String>,
    /// Columns whose values split the held-out rows for the fairness table (accuracy, AUC,
    /// TPR, FPR, calibration per subgroup of 30 rows or more), comma-separated
    #[arg(long, value_delimiter = ',')]
    pub subgroups: Vec<String>,
    /// Insert this many canary records (random feature values, random class) into the training
    /// rows and report their exposure (The Secret Sharer): how far above 1,023 records drawn the
    /// same way and never trained on the model ranks them, in bits (chance: about 1.44)
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub canaries: u32,
    /// How many times each canary is inserted (DP protects one record; repeats test more)
    #[arg(long, default_value_t = 1, requires = "canaries", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub canary_repeats: u32,
    /// Where to write the model (JSON)
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write the model card (HTML: lineage, privacy, utility, membership, canaries,
    /// subgroups)
    #[arg(long, value_name = "FILE.html")]
    pub card: Option<PathBuf>,
    /// What the model is for, as the card should say it
    #[arg(long)]
    pub intended_use: Option<String>,
    /// Replace an existing model file
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum EnclaveCommand {
    /// Run CMD on datasets: it finds them in $AIRLOCK_DATA (one file each, by name) and writes
    /// to $AIRLOCK_OUT; its outputs are released into --out only if the scan finds no
    /// identifier in them (exit 1 otherwise)
    Run {
        /// Dataset ids (zones deid or dev), comma-separated
        #[arg(long, value_delimiter = ',', required = true)]
        data: Vec<String>,
        /// Where the outputs are released (a new folder)
        #[arg(long)]
        out: PathBuf,
        /// A path the command may read besides the system's program folders (its code, its
        /// virtualenv); repeatable
        #[arg(long)]
        read: Vec<PathBuf>,
        /// Network: none (a network namespace with no interface up, TCP refused) or loopback
        /// (that namespace's own loopback up: processes of the command may talk to each other;
        /// nothing outside is reachable)
        #[arg(long, default_value = "none", value_parser = ["none", "loopback"])]
        allow_net: String,
        /// Address-space limit of the command, bytes
        #[arg(long)]
        memory: Option<u64>,
        /// CPU-time limit of the command, seconds
        #[arg(long)]
        cpu_seconds: Option<u64>,
        /// Wall-clock limit, seconds: the command is killed after it
        #[arg(long)]
        timeout: Option<u64>,
        #[command(flatten)]
        who: ActorArgs,
        /// The command and its arguments
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// (internal) confine this process, then become the command
    #[command(hide = true)]
    ExecConfined {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        read: Vec<PathBuf>,
        #[arg(long)]
        memory: Option<u64>,
        #[arg(long)]
        cpu_seconds: Option<u64>,
        #[arg(long)]
        parent: u32,
        #[arg(long)]
        loopback: bool,
        /// The second stage: the process namespace's first process (the value is the first
        /// stage's process id)
        #[arg(long)]
        init: Option<u32>,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

/// A DP-SGD run's shape: sampling rate, steps, delta, accountant.
#[derive(Debug, Args)]
pub struct DpRun {
    /// Poisson sampling rate: expected batch size / dataset size
    #[arg(long)]
    pub sampling_rate: f64,
    /// Training steps (batches)
    #[arg(long)]
    pub steps: u64,
    /// Delta of (epsilon, delta)-DP (below 1 / dataset size)
    #[arg(long, default_value_t = 1e-5)]
    pub delta: f64,
    /// The accountant: rdp (Rényi DP at dp-accounting's default orders; fast) or pld (the
    /// privacy loss distribution, connect-the-dots with interval 1e-4; tighter, heavier)
    #[arg(long, value_enum, default_value_t = AccountantArg::Rdp)]
    pub accountant: AccountantArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AccountantArg {
    Rdp,
    Pld,
}

impl From<AccountantArg> for airlock_dp::Accountant {
    fn from(a: AccountantArg) -> Self {
        match a {
            AccountantArg::Rdp => airlock_dp::Accountant::Rdp,
            AccountantArg::Pld => airlock_dp::Accountant::Pld,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SynthCommand {
    /// Fit a synthesizer to a table under an (epsilon, delta) budget: noisy marginals along a
    /// privately chosen tree; the model holds marginals, never rows
    Fit {
        /// The table (CSV, JSONL or Parquet)
        data: PathBuf,
        /// Where to write the model (JSON)
        #[arg(short, long)]
        output: PathBuf,
        /// The privacy budget; `inf` fits without any privacy (for comparison only: every
        /// output says so)
        #[arg(long)]
        epsilon: f64,
        /// Delta of (epsilon, delta)-DP
        #[arg(long, default_value_t = 1e-6)]
        delta: f64,
        /// The de-identification policy: its classes decide, and identifier and free-text
        /// columns are refused (without one, every column is taken as a clinical value)
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The columns to synthesize, comma-separated (default: all)
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// Seed: the same seed and data give the same model. Anyone who knows it can reproduce
        /// the noise: keep it secret, or leave it out (the operating system's random source)
        #[arg(long)]
        seed: Option<u64>,
        /// Replace an existing model file
        #[arg(long)]
        force: bool,
    },
    /// The fidelity report: one- and two-way marginals, associations and distributions, real
    /// against synthetic, and what a model trained on each is worth on held-out real rows
    Report {
        /// The real rows the synthesizer was fitted on
        #[arg(long)]
        real: PathBuf,
        /// The synthetic rows
        #[arg(long)]
        synthetic: PathBuf,
        /// The model, to state its privacy in the report
        #[arg(long)]
        model: Option<PathBuf>,
        /// Real rows held out of the fit: the chance level of the privacy measures, and with
        /// --target, the rows models trained on the real and on the synthetic rows are scored on
        #[arg(long)]
        holdout: Option<PathBuf>,
        /// The column the utility models predict (needs --holdout)
        #[arg(long, requires = "holdout")]
        target: Option<String>,
        /// Binary: this target value is the positive class
        #[arg(long)]
        positive: Option<String>,
        /// The policy: its quasi-identifiers are measured, and its `[synthetic]` gate
        /// (`max_rare_copies`, `min_k`) fails the report (exit 1) when rare real records are
        /// reproduced
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Quasi-identifiers to measure, comma-separated (default: the policy's)
        #[arg(long, value_delimiter = ',')]
        qi: Vec<String>,
        /// Also write the report as HTML
        #[arg(long, value_name = "FILE.html")]
        html: Option<PathBuf>,
        /// Replace an existing HTML file
        #[arg(long)]
        force: bool,
    },
    /// Sample rows from a fitted synthesizer (streamed; CSV, JSONL or Parquet by extension)
    Sample {
        /// The model written by `synth fit`
        model: PathBuf,
        /// How many rows
        #[arg(short = 'n', long)]
        rows: u64,
        /// Where to write them
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Replace an existing output
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DpCommand {
    /// Epsilon of `--steps` DP-SGD steps with this noise multiplier and sampling rate
    Epsilon {
        /// Noise standard deviation / clipping norm
        #[arg(long)]
        noise_multiplier: f64,
        #[command(flatten)]
        run: DpRun,
    },
    /// The smallest noise multiplier whose epsilon is at most --epsilon
    Noise {
        /// The target epsilon
        #[arg(long)]
        epsilon: f64,
        #[command(flatten)]
        run: DpRun,
    },
}

/// Where the workspace folder is, for the commands an operator runs on the server's machine.
#[derive(Debug, Args)]
pub struct WorkspaceArg {
    /// The workspace (the folder `airlock init` made, or its .airlock/); default: here
    #[arg(long, default_value = ".")]
    pub workspace: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub workspace: WorkspaceArg,
    /// The address to listen on (port 0: any free port)
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: std::net::SocketAddr,
    /// Write the address the server listens on to this file once it is listening
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
    /// Accept OIDC bearer tokens (AIRLOCK_TOKEN on the client) from this issuer, verified
    /// against the keys its discovery document publishes; identity oidc:SUB
    #[arg(long, value_name = "URL")]
    pub oidc_issuer: Option<String>,
    /// The audience OIDC tokens must be for
    #[arg(long, default_value = "airlock", requires = "oidc_issuer")]
    pub oidc_audience: String,
    /// PEM roots for the issuer's TLS certificate (default: the system's bundle)
    #[arg(long, value_name = "FILE", requires = "oidc_issuer")]
    pub oidc_ca: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create the CA (.airlock/ca/, key 0600) and the server's certificate
    Init {
        #[command(flatten)]
        workspace: WorkspaceArg,
        /// A DNS name or IP address the server is reached at (repeatable)
        #[arg(long = "host", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()])]
        hosts: Vec<String>,
    },
    /// Issue a client certificate to a person: NAME.pem and NAME.key (0600) in --out; the
    /// server knows them as cert:NAME (bind it to roles in access.toml's [actors])
    Issue {
        /// The person's name (letters, digits and . _ - @)
        name: String,
        /// Where to write the certificate and key
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Days the certificate is valid
        #[arg(long, default_value_t = 365)]
        days: u32,
        #[command(flatten)]
        workspace: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Make an API key for a service, known to the server as key:NAME; printed once
    Create {
        /// The service's name (letters, digits and . _ - @)
        name: String,
        #[command(flatten)]
        workspace: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// List the client certificates and API keys the server accepts or has revoked
    Ls {
        #[command(flatten)]
        workspace: WorkspaceArg,
    },
    /// Revoke a certificate or API key by its id (cr-...): refused from the next request on
    Revoke {
        id: String,
        #[command(flatten)]
        workspace: WorkspaceArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Rewrap every data key under a new random key-encryption key and destroy the old ones
    /// (no data is re-encrypted); shredding does this by itself
    Rotate {
        #[command(flatten)]
        who: ActorArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Shred every dataset older than its zone's retention (days), and record it
    Apply {
        /// Only list what would be shredded
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        who: ActorArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum LineageCommand {
    /// Check OUTPUT.intoto.json: the workspace's signature and the output's SHA-256
    Verify {
        /// The output file
        output: PathBuf,
        /// Verify with this public key (hex, from `airlock lineage pubkey`) instead of the workspace's
        #[arg(long)]
        public_key: Option<String>,
        /// The workspace secret (default: AIRLOCK_KEY_FILE, then .airlock/secret here or above)
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// With a server: the key is the server's (`lineage pubkey`)
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print the public key that verifies this workspace's signed statements
    Pubkey {
        /// The workspace secret (default: AIRLOCK_KEY_FILE, then .airlock/secret here or above)
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Walk an output back through its signed statements to the raw data
    Show {
        /// The output file
        output: PathBuf,
        /// The workspace secret (default: AIRLOCK_KEY_FILE, then .airlock/secret here or above)
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
}

/// Who is acting, as which role, for which purpose (recorded in the audit log).
#[derive(Debug, Args)]
pub struct ActorArgs {
    /// Your name in the audit log (default: AIRLOCK_ACTOR, then the login name)
    #[arg(long)]
    pub actor: Option<String>,
    /// The role you act as, from .airlock/access.toml (default: AIRLOCK_ROLE)
    #[arg(long, env = "AIRLOCK_ROLE")]
    pub role: String,
    /// Why: the declared purpose, checked against the role's purposes (default: AIRLOCK_PURPOSE)
    #[arg(long, env = "AIRLOCK_PURPOSE")]
    pub purpose: String,
    /// The workspace secret (default: AIRLOCK_KEY_FILE, then .airlock/secret here or above)
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Encrypt a file into a zone under a fresh data key
    Put {
        /// The zone: raw, deid, dev, staging or prod
        #[arg(long)]
        zone: String,
        /// The file to store
        file: PathBuf,
        /// A name for the dataset (default: the file name)
        #[arg(long)]
        name: Option<String>,
        /// The canary file `airlock canary plant` wrote for this table: kept with it (sealed
        /// under its key), carried to everything made from it, and searched for at every gate
        #[arg(long)]
        canaries: Option<PathBuf>,
        #[command(flatten)]
        who: ActorArgs,
    },
    /// Decrypt a dataset to a file, if your role and purpose may read its zone
    Get {
        /// The dataset id (from `airlock vault ls`)
        dataset: String,
        /// Where to write it
        #[arg(short, long)]
        output: PathBuf,
        /// Replace an existing output file
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        who: ActorArgs,
    },
    /// List the datasets without decrypting anything
    Ls {
        /// The workspace secret (default: AIRLOCK_KEY_FILE, then .airlock/secret here or above)
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// De-identify a raw dataset under a policy into the deid zone (the only way data enters it)
    Deid {
        /// The raw dataset id
        dataset: String,
        /// The policy file (TOML)
        #[arg(short, long)]
        policy: PathBuf,
        #[command(flatten)]
        who: ActorArgs,
    },
    /// Move a dataset one zone toward production, if its gate passes (a clean residual scan
    /// into dev, approvals from distinct actors into staging and prod)
    Promote {
        /// The dataset id
        dataset: String,
        /// The zone to move it to
        #[arg(long)]
        to: String,
        #[command(flatten)]
        who: ActorArgs,
    },
    /// Destroy a dataset's data key: it can never be decrypted again
    Shred {
        /// The dataset id
        dataset: String,
        #[command(flatten)]
        who: ActorArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every entry, the Merkle root and signature of every tree head, and (with --head)
    /// that the log extends a tree head exported earlier; exit 1 at the first bad entry
    Verify {
        /// Verify with this public key (hex, from `airlock audit pubkey`) instead of the
        /// workspace's own
        #[arg(long)]
        public_key: Option<String>,
        /// A tree head obtained earlier (`airlock audit head --export`): the log must extend it
        /// (a consistency proof), so a rewritten and re-signed log fails
        #[arg(long, value_name = "HEAD.json")]
        head: Option<PathBuf>,
        /// Verify this log file outside any workspace (needs --public-key)
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// The workspace secret (default: AIRLOCK_KEY_FILE, then .airlock/secret here or above)
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print the log's latest signed tree head, or write it for a witness with --export
    Head {
        /// Write the head to this file (keep it where no one who can write the workspace can
        /// change it: another machine, a ticket, object storage with retention)
        #[arg(long, value_name = "FILE")]
        export: Option<PathBuf>,
        /// Replace an existing FILE
        #[arg(long)]
        force: bool,
        /// The workspace secret (default: AIRLOCK_KEY_FILE, then .airlock/secret here or above)
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print entries, filtered by actor, dataset and time
    Show {
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        dataset: Option<String>,
        /// Only entries at or after this time (RFC 3339, or a date like 2026-11-01)
        #[arg(long)]
        since: Option<String>,
        /// The workspace secret (default: AIRLOCK_KEY_FILE, then .airlock/secret here or above)
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print the public key that verifies this workspace's audit tree heads
    Pubkey {
        /// The workspace secret (default: AIRLOCK_KEY_FILE, then .airlock/secret here or above)
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TextCommand {
    /// Replace each identifier with a typed tag such as [NAME] or [DATE]
    Redact(RedactArgs),
    /// Replace each identifier with a realistic, consistent surrogate (needs the workspace secret)
    Surrogate(TextArgs),
}

/// Where `text redact` and `text surrogate` read and write.
#[derive(Debug, Args)]
pub struct TextIo {
    /// The text file to read, or - for standard input
    #[arg(default_value = "-")]
    pub input: PathBuf,
    /// Write here instead of standard output (atomically)
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Replace an existing output file
    #[arg(long)]
    pub force: bool,
    /// How far the detector goes: strict (also words no dictionary explains that are shaped
    /// like names) or balanced (the rules only)
    #[arg(long, value_enum, default_value_t = ModeArg::Strict)]
    pub mode: ModeArg,
    /// What the record already says about its patient, as JSON: {"NAME": ["Ada Quillfeather"],
    /// "PHONE": ["603-482-1193"], ...}; each value is also removed in its easy forms (any case,
    /// each part of a name, the digits of a number)
    #[arg(long)]
    pub known: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RedactArgs {
    #[command(flatten)]
    pub io: TextIo,
}

#[derive(Debug, Args)]
pub struct TextArgs {
    #[command(flatten)]
    pub io: TextIo,
    /// The patient the text belongs to: surrogates are consistent per patient, and dates move
    /// by the patient's offset on the workspace clock (without a patient or --date-shift,
    /// dates become [DATE])
    #[arg(long)]
    pub patient: Option<String>,
    /// Move dates by this many days instead (-3650 to 3650, not 0)
    #[arg(long, allow_negative_numbers = true)]
    pub date_shift: Option<i64>,
    /// Largest per-patient date shift in days (1 to 3650; the policy's date_shift_days for a
    /// patient to move as in its tables)
    #[arg(long, default_value_t = airlock_core::clock::DEFAULT_SHIFT_DAYS)]
    pub date_shift_days: u32,
    /// The workspace secret (default: AIRLOCK_KEY_FILE, then .airlock/secret here or above)
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories (searched recursively)
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Findings tolerated before exiting with 1
    #[arg(long, default_value_t = 0)]
    pub max: u64,
    /// Locations printed per file (all counts are always complete)
    #[arg(long, default_value_t = 20)]
    pub show: usize,
    /// How far the detector goes: strict or balanced (the rules only)
    #[arg(long, value_enum, default_value_t = ModeArg::Strict)]
    pub mode: ModeArg,
}

#[derive(Debug, Subcommand)]
pub enum FhirCommand {
    /// De-identify a FHIR R4 resource or Bundle (.json) or bulk export (.ndjson, streamed):
    /// airlock's Safe Harbor configuration by default, or a Microsoft anonymizer configuration
    Deid(FhirDeidArgs),
}

#[derive(Debug, Args)]
pub struct FhirDeidArgs {
    /// A .json resource or Bundle, an .ndjson file (one resource a line), or a directory of
    /// them (a bulk export: same layout out)
    pub input: PathBuf,
    /// The output file or directory (written in full or not at all)
    #[arg(short, long)]
    pub output: PathBuf,
    /// A configuration in the format of Microsoft's Tools for Health Data Anonymization
    /// (fhirPathRules and parameters); default: airlock's Safe Harbor configuration
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The workspace secret, which keys ids, references and per-patient date shifts when the
    /// configuration leaves its keys empty (default: AIRLOCK_KEY_FILE, then .airlock/secret)
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Largest per-patient date shift in days when the workspace keys it (1 to 3650; use the
    /// policy's date_shift_days for a patient to move as in its tables)
    #[arg(long, default_value_t = airlock_core::clock::DEFAULT_SHIFT_DAYS)]
    pub date_shift_days: u32,
    /// Replace an existing output
    #[arg(long)]
    pub force: bool,
    /// How far the free-text detector goes in narratives and notes: strict or balanced
    #[arg(long, value_enum, default_value_t = ModeArg::Strict)]
    pub text_mode: ModeArg,
}

#[derive(Debug, Subcommand)]
pub enum DicomCommand {
    /// De-identify a DICOM file, or a tree of them (same layout out; non-DICOM files and
    /// DICOMDIR are not copied), under PS3.15 Table E.1-1 and the options given
    Deid(DicomDeidArgs),
}

#[derive(Debug, Args)]
pub struct DicomDeidArgs {
    /// A DICOM file or a directory
    pub input: PathBuf,
    /// The output file or directory (written in full or not at all)
    #[arg(short, long)]
    pub output: PathBuf,
    /// The profile (only the Basic Application Level Confidentiality Profile exists)
    #[arg(long, default_value = "basic", value_parser = ["basic"])]
    pub profile: String,
    /// An option of Table E.1-1 (repeatable): retain-safe-private, retain-uids,
    /// retain-device-identity, retain-institution-identity, retain-patient-characteristics,
    /// retain-long-full-dates, retain-long-modified-dates, clean-descriptors,
    /// clean-structured-content, clean-graphics
    #[arg(long = "option", value_name = "OPTION")]
    pub options: Vec<String>,
    /// Blank a pixel region X,Y,WIDTH,HEIGHT in every frame of images that may carry burned-in
    /// text (uncompressed pixel data; repeatable); Burned In Annotation then becomes NO
    #[arg(long, value_name = "X,Y,W,H")]
    pub blank: Vec<String>,
    /// A private attribute kept under retain-safe-private, as CREATOR/GGGG/EE (repeatable)
    #[arg(long, value_name = "CREATOR/GGGG/EE")]
    pub safe_private: Vec<String>,
    /// Largest date shift in days under retain-long-modified-dates (per patient, keyed by the
    /// workspace clock; 1 to 3650, as a policy's date_shift_days)
    #[arg(long, default_value_t = airlock_core::clock::DEFAULT_SHIFT_DAYS)]
    pub date_shift_days: u32,
    /// The workspace secret (default: AIRLOCK_KEY_FILE, then .airlock/secret here or above)
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Replace an existing output
    #[arg(long)]
    pub force: bool,
    /// Files listed per kind of finding (all counts are always complete)
    #[arg(long, default_value_t = 20)]
    pub show: usize,
}

#[derive(Debug, Subcommand)]
pub enum CanaryCommand {
    /// Add synthetic canary patients to a raw table: new values in every identifying column,
    /// a note with every kind of identifier in every free-text column, recorded in a canary
    /// file (keep it with the raw data)
    Plant(CanaryPlantArgs),
    /// Search files and trees for any trace of the canaries (as written, reformatted, digits
    /// only, other date layouts, unkeyed SHA-256 / MD5); exit 1 with locations on any hit
    Check(CanaryCheckArgs),
}

#[derive(Debug, Args)]
pub struct CanaryPlantArgs {
    /// The policy the table will be de-identified with (it says which columns identify)
    #[arg(short, long)]
    pub policy: PathBuf,
    /// The raw table (CSV, JSONL or Parquet); it is read, never written
    pub input: PathBuf,
    /// Where to write the table with the canaries in it
    #[arg(short, long)]
    pub output: PathBuf,
    /// The canary file (default: beside the output, NAME.canaries.json)
    #[arg(long)]
    pub canaries: Option<PathBuf>,
    /// How many canary patients
    #[arg(short = 'n', long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub count: u16,
    /// Seed for a reproducible plant (default: random)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Input format (default: from the extension)
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Output format (default: from the output's extension)
    #[arg(long, value_enum)]
    pub output_format: Option<FormatArg>,
    /// Replace an existing output and canary file
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CanaryCheckArgs {
    /// The canary file written by `airlock canary plant`
    #[arg(long)]
    pub canaries: PathBuf,
    /// Files or directories to search (recursively; every file, as bytes, and Parquet cells)
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Locations printed per file (all counts are always complete)
    #[arg(long, default_value_t = 20)]
    pub show: usize,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Binary recall, precision and F2 of the text detector, overall and per type
    Text(EvalTextArgs),
}

#[derive(Debug, Args)]
pub struct EvalTextArgs {
    /// Gold corpus, JSONL: {"id", "text", "spans": [{"start", "end", "type", "optional"?}]}
    #[arg(long)]
    pub gold: PathBuf,
    /// Exit with 1 when binary recall is below this
    #[arg(long)]
    pub min_recall: Option<f64>,
    /// Exit with 1 when precision is below this
    #[arg(long)]
    pub min_precision: Option<f64>,
    /// The mode the thresholds judge (both modes are always reported)
    #[arg(long, value_enum, default_value_t = ModeArg::Strict)]
    pub mode: ModeArg,
}

/// The free-text detector's modes on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Strict,
    Balanced,
}

impl From<ModeArg> for airlock_core::text::DetectionMode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Strict => Self::Strict,
            ModeArg::Balanced => Self::Balanced,
        }
    }
}

/// Table formats on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Csv,
    Jsonl,
    Parquet,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Csv => Format::Csv,
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Parquet => Format::Parquet,
        }
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the demo's files
    #[arg(long, default_value = "airlock-demo")]
    pub dir: PathBuf,
    /// Number of encounter rows to generate
    #[arg(long, default_value_t = 100_000)]
    pub rows: u64,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The directory to create the workspace in
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The table to sample
    pub input: PathBuf,
    /// Write the draft policy here (printed on stdout without it)
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Rows to sample from the start of the table
    #[arg(long, default_value_t = 10_000)]
    pub sample: u64,
    /// Input format (default: from the extension)
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Dataset name for the draft (default: the input's file stem)
    #[arg(long)]
    pub name: Option<String>,
    /// Replace an existing output file
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub read: ReadArgs,
}

/// How a table is read: its header and the limits that stop a hostile shape.
#[derive(Debug, Clone, Args)]
pub struct ReadArgs {
    /// The CSV has no header row: every row is data (a first row that looks like data is
    /// refused without this)
    #[arg(long)]
    pub no_header: bool,
    /// The header row's names are not identifiers, whatever they look like (skips the check
    /// that refuses a header which looks like data; names are still escaped when shown)
    #[arg(long, conflicts_with = "no_header")]
    pub trust_header: bool,
    /// Names for the columns of a --no-header CSV, comma-separated (default: column_1,
    /// column_2, ...)
    #[arg(long, value_delimiter = ',', requires = "no_header")]
    pub columns: Option<Vec<String>>,
    /// Refuse a table with more columns than this
    #[arg(long, default_value_t = airlock_core::table::Limits::DEFAULT_MAX_COLUMNS as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_columns: u64,
    /// Refuse a cell larger than this many bytes
    #[arg(long, default_value_t = airlock_core::table::Limits::DEFAULT_MAX_CELL_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(1..=(1 << 31)))]
    pub max_cell_bytes: u64,
    /// Refuse a row (a CSV record, a JSONL line) larger than this many bytes
    #[arg(long, default_value_t = airlock_core::table::Limits::DEFAULT_MAX_ROW_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(1..=(1 << 32)))]
    pub max_row_bytes: u64,
}

#[derive(Debug, Args)]
pub struct DeidArgs {
    /// The policy file (TOML)
    #[arg(short, long)]
    pub policy: PathBuf,
    /// The table to de-identify
    pub input: PathBuf,
    /// Where to write the de-identified table (its manifest goes beside it)
    #[arg(short, long)]
    pub output: PathBuf,
    /// Input format (default: from the extension)
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Output format (default: from the output's extension)
    #[arg(long, value_enum)]
    pub output_format: Option<FormatArg>,
    /// The workspace secret (default: AIRLOCK_KEY_FILE, then .airlock/secret here or above)
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Replace existing output and manifest files
    #[arg(long)]
    pub force: bool,
    /// Skip the residual-PHI scan of kept and free-text columns
    #[arg(long)]
    pub no_scan: bool,
    /// Residual findings tolerated before exiting with 1
    #[arg(long, default_value_t = 0)]
    pub max_findings: u64,
    /// How far the free-text detector goes: strict (default; also removes words no
    /// dictionary explains that are shaped like names) or balanced (the rules only). Overrides
    /// the policy's [text] mode
    #[arg(long, value_enum)]
    pub text_mode: Option<ModeArg>,
    /// Threads that transform batches (1 to 256; default: one per core); output order never
    /// changes
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Rows per record batch (1 to 1,000,000)
    #[arg(long, default_value_t = airlock_core::table::DEFAULT_BATCH_SIZE as u32, hide = true,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub batch_size: u32,
    #[command(flatten)]
    pub read: ReadArgs,
}

/// Quasi-identifiers, sensitive attribute and hierarchies, shared by `risk` and `anonymize`.
#[derive(Debug, Args)]
pub struct QiArgs {
    /// The table
    pub input: PathBuf,
    /// Quasi-identifier columns, comma-separated
    #[arg(long, value_delimiter = ',', required = true)]
    pub qi: Vec<String>,
    /// The sensitive column (for l-diversity and t-closeness)
    #[arg(long)]
    pub sensitive: Option<String>,
    /// A generalization hierarchy as COLUMN=SPEC (repeatable). SPEC is an ARX hierarchy file, or
    /// a builder: `intervals:5,10,20` (numbers), `dates` (day, month, year, decade), `zip`
    /// (digits masked from the right). A QI without one can only be kept or suppressed
    #[arg(long = "hierarchy", value_name = "COLUMN=SPEC")]
    pub hierarchies: Vec<String>,
    /// Prosecutor-risk threshold for "records at risk"
    #[arg(long, default_value_t = 0.2)]
    pub threshold: f64,
    /// An ARX hierarchy file for the sensitive column (hierarchical t-closeness)
    #[arg(long, value_name = "FILE")]
    pub sensitive_hierarchy: Option<PathBuf>,
    /// Also write a self-contained HTML report (inline SVG plots, a sign-off block)
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Input format (default: from the extension)
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
}

#[derive(Debug, Args)]
pub struct RiskArgs {
    #[command(flatten)]
    pub qi: QiArgs,
    /// Size of the population the table was drawn from: estimates population uniqueness
    /// (Pitman, Zayatz, SNB, Dankar's rule)
    #[arg(long, conflicts_with = "sampling_fraction")]
    pub population: Option<f64>,
    /// The table's share of its population (0 to 1), instead of --population
    #[arg(long)]
    pub sampling_fraction: Option<f64>,
    /// A population table holding the same quasi-identifier columns (a register, a census
    /// extract): adds journalist risk, 1 / the size of each record's class in it
    #[arg(long, value_name = "FILE")]
    pub population_table: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct AnonymizeArgs {
    #[command(flatten)]
    pub qi: QiArgs,
    /// Every class must have at least k records
    #[arg(long)]
    pub k: Option<u32>,
    /// Every class must have at least l distinct sensitive values
    #[arg(long)]
    pub l: Option<u32>,
    /// Every class's sensitive distribution must be within t of the table's
    #[arg(long)]
    pub t: Option<f64>,
    /// How t measures distance: equal, ordered (numbers), hierarchical (--sensitive-hierarchy)
    #[arg(long, value_enum, default_value = "equal")]
    pub t_distance: TDistanceArg,
    /// Recursive (c,l)-diversity, as C,L (the top sensitive value is rarer than C times the
    /// values from the L-th on)
    #[arg(long, value_name = "C,L")]
    pub recursive_cl: Option<String>,
    /// What the search minimizes
    #[arg(long, value_enum, default_value = "loss")]
    pub metric: MetricArg,
    /// Largest average prosecutor risk (smallest classes are suppressed first)
    #[arg(long)]
    pub max_avg_risk: Option<f64>,
    /// Largest fraction of records that may be suppressed (0 to 1)
    #[arg(long, default_value_t = 0.0)]
    pub max_suppression: f64,
    /// Where to write the generalized table
    #[arg(short, long)]
    pub output: PathBuf,
    /// Output format (default: from the output's extension)
    #[arg(long, value_enum)]
    pub output_format: Option<FormatArg>,
    /// Replace an existing output file
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TDistanceArg {
    Equal,
    Ordered,
    Hierarchical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetricArg {
    Loss,
    Discernibility,
}

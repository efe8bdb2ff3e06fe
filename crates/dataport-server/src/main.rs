//! `dataportd`: the dataport server and its operator commands.

mod admin;
mod config_file;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use dataport_core::Config;
use dataport_core::auth::ACCESS_TOKEN_SECONDS;
use dataport_core::config::{Limits, ProxyList, Role, parse_signing_keys, redact_url};
use dataport_core::consent::Duration;
use dataport_core::demo::{self, DEMO_CLIENT, DEMO_PASSWORD, DEMO_USER};
use dataport_server::Application;

/// dataport: a self-hostable Data Portability API server.
#[derive(Parser)]
#[command(name = "dataportd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (API, downloads, job workers). With no options: emulator mode.
    Serve(Box<ServeArgs>),
    /// Operator commands.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Create or upgrade the database schema, then exit.
    Migrate(DataDir),
    /// The configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration `serve` would run with (its --config file, DATAPORT_*
    /// environment and flags, in that order of precedence) and print it, secrets redacted.
    Check(Box<ServeArgs>),
}

/// Where a deployment's state lives (SPEC §15), shared by `serve`, `migrate` and the admin commands.
#[derive(Args)]
pub(crate) struct DataDir {
    /// Directory holding the embedded database, archives and signing key.
    #[arg(long, env = "DATAPORT_DATA_DIR", default_value = "./dataport-data")]
    pub(crate) data_dir: PathBuf,
    /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB; default:
    /// sqlite://<data-dir>/dataport.sqlite.
    #[arg(long, env = "DATAPORT_DATABASE_URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,
    /// Blob store URL for archive parts: file://DIR or
    /// s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=true (credentials from
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); default: file://<data-dir>/blobs.
    #[arg(long, env = "DATAPORT_BLOB_URL")]
    pub(crate) blob_url: Option<String>,
    /// Resource-group catalogue (TOML); default: Google's 73 groups on emulator data.
    #[arg(long, env = "DATAPORT_CATALOGUE")]
    pub(crate) catalogue: Option<PathBuf>,
}

impl DataDir {
    /// The core's configuration for these options, everything else at its default.
    pub(crate) fn config(&self) -> Config {
        let mut config = Config::new(&self.data_dir);
        config.database_url = self.database_url.clone();
        config.blob_url = self.blob_url.clone();
        config.catalogue_path = self.catalogue.clone();
        config
    }
}

#[derive(Args)]
struct ServeArgs {
    /// A TOML file with any of these options, by their long names (`database-url = "…"`; see
    /// dataport.example.toml). The environment and the flags take precedence over it.
    #[arg(long, env = "DATAPORT_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    data: DataDir,
    /// Address to listen on.
    #[arg(long, env = "DATAPORT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Origin clients use to reach this server (e.g. https://portability.example.com); default: the listen address.
    #[arg(long, env = "DATAPORT_PUBLIC_URL")]
    public_url: Option<String>,
    /// Emulator records per resource group.
    #[arg(long, env = "DATAPORT_EMULATOR_RECORDS", default_value_t = 1000)]
    emulator_records: u64,
    /// Emulator records for one group, as GROUP=N (repeatable).
    #[arg(long = "emulator-group-records", value_parser = parse_group_records)]
    emulator_group_records: Vec<(String, u64)>,
    /// Seed of the emulator's synthetic data.
    #[arg(long, env = "DATAPORT_EMULATOR_SEED", default_value_t = 0)]
    emulator_seed: u64,
    /// Make exports of this group fail, to exercise retry (repeatable).
    #[arg(long = "emulator-fail")]
    emulator_fail: Vec<String>,
    /// What this process does: api (API and downloads), worker (exports; HTTP serves only
    /// /healthz and /readyz) or all. With SQLite only all.
    #[arg(long, env = "DATAPORT_ROLE", value_enum, default_value_t = RoleArg::All)]
    role: RoleArg,
    /// Concurrent exports in this process.
    #[arg(long, env = "DATAPORT_WORKERS")]
    workers: Option<usize>,
    /// Archive part size in bytes.
    #[arg(long, env = "DATAPORT_PART_SIZE", default_value_t = 2 << 30)]
    part_size: u64,
    /// Deflate level of archives, 0-9.
    #[arg(long, env = "DATAPORT_COMPRESSION_LEVEL", default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=9))]
    compression_level: u8,
    /// Days an archive stays downloadable after completion.
    #[arg(long, env = "DATAPORT_RETENTION_DAYS", default_value_t = 14)]
    retention_days: i64,
    /// Seconds a signed download URL stays valid.
    #[arg(long, env = "DATAPORT_URL_TTL", default_value_t = 6 * 3600)]
    url_ttl: i64,
    /// Seconds before a job whose worker stopped heartbeating is taken over.
    #[arg(long, env = "DATAPORT_LEASE_SECONDS", default_value_t = 20)]
    lease_seconds: i64,
    /// Seconds between two initiates of a time-based group.
    #[arg(long, env = "DATAPORT_COOLDOWN_SECONDS", default_value_t = 86_400)]
    cooldown_seconds: i64,
    /// API requests per minute per (user, client); 0 disables the limit.
    #[arg(long, env = "DATAPORT_RATE_LIMIT", default_value_t = 6000)]
    rate_limit: u32,
    /// Download URL signing keys, KID:BASE64URL_SECRET[,…] (the first signs); default: a key kept in the data dir.
    #[arg(long, env = "DATAPORT_SIGNING_KEYS", hide_env_values = true)]
    signing_keys: Option<String>,
    /// Requests per minute per client address to the sign-in, consent, token and revocation
    /// endpoints; 0 disables the limit.
    #[arg(long, env = "DATAPORT_AUTH_RATE_LIMIT", default_value_t = 600)]
    auth_rate_limit: u32,
    /// Lifetime of access tokens in seconds.
    #[arg(long, env = "DATAPORT_ACCESS_TOKEN_SECONDS", default_value_t = ACCESS_TOKEN_SECONDS)]
    access_token_seconds: i64,
    /// Live refresh tokens kept per (user, client): the consent beyond it drops the oldest (as
    /// Google's 100).
    #[arg(long, env = "DATAPORT_REFRESH_TOKEN_CAP", default_value_t = 100)]
    refresh_token_cap: u32,
    /// Seconds after a rotation in which the rotated refresh token may be presented again and
    /// get the same successor (two refreshes racing from one app) instead of revoking them all.
    #[arg(long, env = "DATAPORT_REFRESH_REUSE_WINDOW", default_value_t = 30)]
    refresh_reuse_window: i64,
    /// Durations the consent page offers (comma-separated: one-time, 30d, 180d).
    #[arg(long, env = "DATAPORT_CONSENT_DURATIONS", value_delimiter = ',', default_value = "one-time,30d,180d", value_parser = admin::parse_duration)]
    consent_durations: Vec<Duration>,
    /// Trusted-header sign-in: the header, set by your authenticating proxy, that carries the
    /// user's subject id. Replaces the login page. The proxy must strip it from client requests.
    #[arg(long, env = "DATAPORT_TRUSTED_HEADER", requires = "trusted_proxy")]
    trusted_header: Option<String>,
    /// Address or CIDR range of a reverse proxy in front of this server (repeatable, or
    /// comma-separated): its X-Forwarded-For / Forwarded is believed for the client address, and
    /// only it may set --trusted-header.
    #[arg(long, env = "DATAPORT_TRUSTED_PROXY", value_delimiter = ',', value_parser = ProxyList::parse)]
    trusted_proxy: Vec<ProxyList>,
    /// Create the demo user (password "demo") and client even outside pure emulator mode on
    /// loopback. Anyone who reaches the server can then sign in as it.
    #[arg(long, conflicts_with = "no_demo")]
    demo: bool,
    /// Do not create the demo user and client, even in emulator mode on loopback.
    #[arg(long)]
    no_demo: bool,
    /// Seconds a client may accept no bytes of a response before it is disconnected.
    #[arg(long, env = "DATAPORT_WRITE_TIMEOUT", default_value_t = 30)]
    write_timeout: u64,
    /// Open connections in all; beyond it the server stops accepting until one closes.
    #[arg(long, env = "DATAPORT_MAX_CONNECTIONS", default_value_t = Limits::default().connections)]
    max_connections: usize,
    /// Open connections from one client address (trusted proxies are exempt).
    #[arg(long, env = "DATAPORT_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = Limits::default().connections_per_address)]
    max_connections_per_address: usize,
    /// Downloads streaming at once to one client address.
    #[arg(long, env = "DATAPORT_MAX_DOWNLOADS_PER_ADDRESS", default_value_t = Limits::default().downloads_per_address)]
    max_downloads_per_address: usize,
    /// Downloads streaming at once of one archive job.
    #[arg(long, env = "DATAPORT_MAX_DOWNLOADS_PER_JOB", default_value_t = Limits::default().downloads_per_job)]
    max_downloads_per_job: usize,
    /// Answer downloads with a 302 to a short-lived presigned URL of the S3 object instead of
    /// streaming them through this server (the signed URL is still checked first).
    #[arg(long, env = "DATAPORT_DOWNLOAD_REDIRECT")]
    download_redirect: bool,
    /// Log format.
    #[arg(long, env = "DATAPORT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    log_format: LogFormat,
    /// Serve Prometheus metrics at http://ADDR/metrics, on a listener of its own (off by
    /// default; keep it off the public network).
    #[arg(long, env = "DATAPORT_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    All,
    Api,
    Worker,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Pretty,
    Json,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Grant resource groups to a client for a user (creating both if needed) and print a fresh
    /// access token. Works while the server runs.
    Token(admin::TokenArgs),
    /// Manage users who sign in on the consent pages.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Manage OAuth clients (the apps that import data).
    #[command(subcommand)]
    Client(admin::ClientCommand),
    /// Print the audit log (consents, tokens, exports, downloads, resets), filtered by time,
    /// user and event.
    Audit(admin::AuditArgs),
    /// List archive jobs (newest first, by state and user), or `jobs show ID` for one job's
    /// attempts, lease, failure reason and parts.
    Jobs(admin::JobsArgs),
}

fn parse_group_records(s: &str) -> Result<(String, u64), String> {
    let (group, n) = s.split_once('=').ok_or("expected GROUP=N")?;
    Ok((group.to_owned(), n.parse().map_err(|_| format!("{n:?} is not a number"))?))
}

fn main() -> anyhow::Result<()> {
    let command = Cli::command();
    let serve_command = command.find_subcommand("serve").cloned().ok_or_else(|| anyhow::anyhow!("no serve command"))?;
    let (args, from_file) = config_file::splice(std::env::args_os().collect(), &serve_command)?;
    let matches = command.try_get_matches_from(args).unwrap_or_else(|e| e.exit());
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(*args).await,
            Command::Config(ConfigCommand::Check(args)) => {
                let check = matches
                    .subcommand_matches("config")
                    .and_then(|m| m.subcommand_matches("check"))
                    .ok_or_else(|| anyhow::anyhow!("no config check matches"))?;
                let effective = config_file::effective(&serve_command, check, &from_file);
                let (config, _, _) = core_config(*args)?;
                config.validate().map_err(anyhow::Error::msg)?;
                if let Some(path) = &config.catalogue_path {
                    dataport_core::catalogue::Catalogue::load(path)?;
                }
                print!("{effective}");
                println!("# ok: the configuration is valid");
                Ok(())
            }
            Command::Admin(AdminCommand::Token(args)) => admin::token(args).await,
            Command::Admin(AdminCommand::User(command)) => admin::user(command).await,
            Command::Admin(AdminCommand::Client(command)) => admin::client(command).await,
            Command::Admin(AdminCommand::Audit(args)) => admin::audit(args).await,
            Command::Admin(AdminCommand::Jobs(args)) => admin::jobs(args).await,
            Command::Migrate(args) => {
                admin::open(&args).await?.close().await;
                println!("database {} is up to date", redact_url(&args.config().database_url()));
                Ok(())
            }
        }
    })
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DATAPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The core's configuration for `serve`'s options, with the address to listen on and the log format.
fn core_config(args: ServeArgs) -> anyhow::Result<(Config, SocketAddr, LogFormat)> {
    let mut config = args.data.config();
    config.public_origin = args.public_url.unwrap_or_default();
    config.emulator.records_per_group = args.emulator_records;
    config.emulator.records_by_group = args.emulator_group_records.into_iter().collect();
    config.emulator.seed = args.emulator_seed;
    config.emulator.fail_groups = args.emulator_fail.into_iter().collect();
    if let Some(workers) = args.workers {
        config.workers = workers;
    }
    config.role = match args.role {
        RoleArg::All => Role::All,
        RoleArg::Api => Role::Api,
        RoleArg::Worker => Role::Worker,
    };
    config.archive.part_size = args.part_size.max(1);
    config.archive.compression_level = args.compression_level;
    config.retention_seconds = args.retention_days * 86_400;
    config.url_ttl_seconds = args.url_ttl;
    config.lease_seconds = args.lease_seconds.max(2);
    config.quota.cooldown_seconds = args.cooldown_seconds;
    config.rate_limit_per_minute = args.rate_limit;
    config.auth_rate_limit_per_minute = args.auth_rate_limit;
    config.access_token_seconds = args.access_token_seconds.max(1);
    config.refresh_token_cap = args.refresh_token_cap.max(1);
    config.refresh_reuse_seconds = args.refresh_reuse_window.max(0);
    config.consent_durations = args.consent_durations;
    config.trusted_header = args.trusted_header;
    config.download_redirect = args.download_redirect;
    config.metrics_listen = args.metrics_listen;
    config.trusted_proxies = args.trusted_proxy.into_iter().collect();
    config.limits = Limits {
        connections: args.max_connections.max(1),
        connections_per_address: args.max_connections_per_address.max(1),
        downloads_per_address: args.max_downloads_per_address.max(1),
        downloads_per_job: args.max_downloads_per_job.max(1),
        write_timeout: std::time::Duration::from_secs(args.write_timeout.max(1)),
    };
    config.demo = match (args.demo, args.no_demo) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    if let Some(keys) = args.signing_keys {
        config.signing_keys = parse_signing_keys(&keys).map_err(anyhow::Error::msg)?;
    }
    Ok((config, args.listen, args.log_format))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (config, listen, log_format) = core_config(args)?;
    init_logging(log_format);
    let seed_demo = demo::wanted(&config, listen);
    let app = Application::build(config, listen).await?;
    let core = app.core();
    let metrics_addr = app.metrics_addr();
    if seed_demo {
        core.seed_demo().await?;
    }
    let demo_open = core.demo_account_open().await?;
    if demo_open {
        tracing::warn!(
            "a demo account exists: user {DEMO_USER:?} with the published password {DEMO_PASSWORD:?}; anyone who \
             reaches this server can sign in as it{}",
            if seed_demo { "" } else { " (disable it: dataportd admin user disable --username demo)" }
        );
    }
    print_banner(core.config(), demo_open);
    if let Some(addr) = metrics_addr {
        println!("  metrics:            http://{addr}/metrics");
    }
    app.run_until_stopped(shutdown_signal()).await
}

fn print_banner(config: &Config, demo_open: bool) {
    let origin = &config.public_origin;
    let dir = config.data_dir.display();
    println!("dataportd is serving Google's Data Portability API at {origin}");
    println!("  data directory:     {dir}");
    println!("  database:           {}", redact_url(&config.database_url()));
    println!("  archives:           {}", redact_url(&config.blob_url()));
    println!("  discovery document: {origin}/$discovery/rest?version=v1");
    println!("  health:             {origin}/healthz");
    if demo_open {
        println!();
        println!(
            "Demo: user {DEMO_USER} (password {DEMO_PASSWORD:?}), public OAuth client {DEMO_CLIENT} (loopback redirects, PKCE)."
        );
        println!(
            "  authorize: {origin}/o/oauth2/v2/auth   token: {origin}/token   metadata: {origin}/.well-known/oauth-authorization-server"
        );
        println!();
        println!("Or skip the consent pages: mint an access token for the demo user and app, then start an export:");
        println!(
            "  TOKEN=$(dataportd admin token --data-dir {dir} --user {DEMO_USER} --client {DEMO_CLIENT} --resources myactivity.search --access one-time)"
        );
        println!(
            "  curl -s -X POST -H \"Authorization: Bearer $TOKEN\" -d '{{\"resources\":[\"myactivity.search\"]}}' {origin}/v1/portabilityArchive:initiate"
        );
        println!(
            "  curl -s -H \"Authorization: Bearer $TOKEN\" {origin}/v1/archiveJobs/JOB_ID/portabilityArchiveState"
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}

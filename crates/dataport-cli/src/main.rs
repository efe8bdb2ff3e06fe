//! `dataport`: pull your data from any Data Portability API — a dataport server or Google's.
//!
//! This file is the command line (clap), the dispatch to the modules, and the one place where
//! results and failures are printed and turned into exit codes.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use dataport_types::Timestamp;
use serde_json::{Value, json};

use dataport_cli::api::{self, Api};
use dataport_cli::error::{self, CliError};
use dataport_cli::job::JobId;
use dataport_cli::oauth::{self, Client, Endpoints};
use dataport_cli::output::{Clock, Output, Report};
use dataport_cli::profile::{self, ConfigDir, Profile};
use dataport_cli::pull::{self, PullArgs, StateFile};

const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  2  usage: bad flags or values, unknown profile, a request the server calls invalid
  3  auth: not signed in, token invalid or revoked (run dataport login), groups not granted
  4  exhausted: RESOURCE_EXHAUSTED (one-time group already exported: dataport reset, then
     dataport login again; time-based: wait for the time shown)
  5  job failed: a job ended FAILED or CANCELLED
  6  network/server: connection refused, 5xx, timeouts, a corrupt download after retries

With --json, stdout holds exactly one JSON document, also on failure:
  {\"error\": {\"code\", \"kind\", \"message\", \"status\"?, \"reason\"?}}

What a server sends is bounded (more is refused, exit 6): an API answer 16 MiB; OAuth
metadata or a token answer 1 MiB; an archive's manifest.json 128 MiB; every archive entry its
ZIP header's size and, with a manifest, the manifest's (an entry it does not list is refused).
Job ids must match [A-Za-z0-9._~-]{1,200}, not starting or ending with '.'. Token requests
follow no redirect; a server's OAuth endpoints must be https (http only on loopback) on its
own origin.";

/// Pull your data from a Data Portability API: a dataport server or Google's.
#[derive(Parser)]
#[command(name = "dataport", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options of every command.
#[derive(Args)]
struct Global {
    /// Profile: which signed-in server and account to use.
    #[arg(long, global = true, env = "DATAPORT_PROFILE", default_value = "default")]
    profile: String,
    /// Configuration directory; default $XDG_CONFIG_HOME/dataport or ~/.config/dataport.
    #[arg(long, global = true, env = "DATAPORT_CONFIG_DIR", value_name = "DIR")]
    config_dir: Option<PathBuf>,
    /// One JSON document on stdout; human text (never progress bars) on stderr.
    #[arg(long, global = true)]
    json: bool,
    /// No human text and no progress bars; errors still go to stderr.
    #[arg(long, global = true)]
    quiet: bool,
    /// A bearer token to use as is (no profile, no refresh); for scripts and CI.
    #[arg(long, global = true, env = "DATAPORT_TOKEN", hide_env_values = true, value_name = "T")]
    token: Option<String>,
    /// API base URL (e.g. http://127.0.0.1:8080); default: the profile's, or Google's with --google.
    #[arg(long, global = true, env = "DATAPORT_API", value_name = "URL")]
    api: Option<String>,
    /// Google's Data Portability API and OAuth endpoints.
    #[arg(long, global = true)]
    google: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in through the browser (OAuth with PKCE) and store the tokens in the profile.
    Login(LoginArgs),
    /// Export groups (one job each), download, verify and extract the archives.
    Pull(PullCommand),
    /// Show a job's state.
    Status {
        /// Job id.
        job: String,
    },
    /// Show which groups the token grants, one-time and time-based.
    Check,
    /// Cancel a job in progress.
    Cancel {
        /// Job id.
        job: String,
    },
    /// Retry a failed job; prints the new job's id.
    Retry {
        /// Job id.
        job: String,
    },
    /// Reset the authorization (every token of this app and account), then forget the profile's tokens.
    Reset,
}

#[derive(Args)]
struct LoginArgs {
    /// A dataport server (its OAuth metadata is read from URL/.well-known/oauth-authorization-server).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Resource groups to ask for, comma-separated (e.g. myactivity.search,chrome.history).
    #[arg(long, value_delimiter = ',', required = true, value_name = "G1,G2")]
    resources: Vec<String>,
    /// OAuth client id; default for a dataport server: its emulator demo client, demo-client.
    #[arg(long, env = "DATAPORT_CLIENT_ID", value_name = "ID")]
    client_id: Option<String>,
    /// OAuth client secret, for a confidential client.
    #[arg(long, env = "DATAPORT_CLIENT_SECRET", hide_env_values = true, value_name = "S")]
    client_secret: Option<String>,
    /// Google's client_secret.json of an OAuth client (desktop app).
    #[arg(long, value_name = "FILE")]
    client_secrets: Option<PathBuf>,
    /// Do not open a browser; only print the URL to open.
    #[arg(long)]
    no_browser: bool,
}

#[derive(Args)]
struct PullCommand {
    /// Resource groups to export, comma-separated; one job per group.
    #[arg(long, value_delimiter = ',', required = true, value_name = "G1,G2")]
    resources: Vec<String>,
    /// Only data at or after this instant (RFC 3339).
    #[arg(long, value_parser = parse_timestamp, value_name = "T")]
    since: Option<Timestamp>,
    /// Only data before this instant (RFC 3339).
    #[arg(long, value_parser = parse_timestamp, value_name = "T")]
    until: Option<Timestamp>,
    /// Where to put the archives.
    #[arg(long, default_value = "./dataport-archive", value_name = "DIR")]
    out: PathBuf,
    /// Continue from the last pull of each group (its exportTime becomes the startTime).
    #[arg(long)]
    incremental: bool,
    /// Cap the total download rate, bytes per second (suffixes k, M, G: powers of 1024).
    #[arg(long, value_parser = parse_rate, value_name = "BYTES_PER_SEC")]
    limit_rate: Option<u64>,
}

fn parse_timestamp(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).map_err(|_| format!("{s:?} is not an RFC 3339 timestamp (e.g. 2026-01-31T00:00:00Z)"))
}

/// `100000`, `64k`, `1.5M`, `2G` (powers of 1024, as curl counts).
fn parse_rate(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (number, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_lowercase()),
        _ => (s, 'b'),
    };
    let factor: f64 = match unit {
        'b' => 1.0,
        'k' => 1024.0,
        'm' => 1024.0 * 1024.0,
        'g' => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("{s:?}: unknown unit (use k, M or G)")),
    };
    let value: f64 = number.parse().map_err(|_| format!("{s:?} is not a rate in bytes per second"))?;
    let bytes = (value * factor).round();
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("{s:?}: the rate must be at least 1 byte per second"));
    }
    Ok(bytes as u64)
}

fn main() -> ExitCode {
    // Read while the process has one thread (see Clock).
    let clock = Clock::detect();
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(e) => return usage_error(&e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let explicit_profile = matches.value_source("profile").is_some_and(|s| s != ValueSource::DefaultValue);
    let output = Output::new(cli.global.json, cli.global.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            let e = CliError::network(format!("cannot start: {e}"));
            output.failure(&e, None);
            return e.exit();
        }
    };
    match runtime.block_on(run(cli, explicit_profile, &output, clock)) {
        Ok(report) => {
            output.report(&report);
            ExitCode::SUCCESS
        }
        Err((e, extra)) => {
            output.failure(&e, extra);
            e.exit()
        }
    }
}

/// A clap error: help and version are not errors; anything else exits 2 (with `--json`, as the
/// error document).
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    if flag("--json") || flag("--quiet") {
        let rendered = e.render().to_string();
        let line = rendered.lines().next().unwrap_or("invalid command line").trim_start_matches("error: ");
        let error = CliError::usage(format!("{line} (see dataport --help)"));
        Output::new(flag("--json"), flag("--quiet")).failure(&error, None);
        return error.exit();
    }
    let _ = e.print();
    ExitCode::from(error::EXIT_USAGE)
}

type Failure = (CliError, Option<Value>);

async fn run(cli: Cli, explicit_profile: bool, output: &Output, clock: Clock) -> Result<Report, Failure> {
    let global = &cli.global;
    let config = ConfigDir::locate(global.config_dir.clone()).map_err(bare)?;
    if !profile::valid_profile_name(&global.profile) {
        return Err(bare(CliError::usage(format!(
            "invalid profile name {:?}: use letters, digits, '-', '_' and '.'",
            global.profile
        ))));
    }
    let http = api::http_client().map_err(bare)?;
    match cli.command {
        Command::Login(args) => login(args, global, &config, &http, output).await.map_err(bare),
        Command::Pull(args) => {
            let api = connect(global, explicit_profile, &config, http, clock).map_err(bare)?;
            let args = PullArgs {
                resources: args.resources.iter().map(|g| g.trim().to_owned()).collect(),
                since: args.since,
                until: args.until,
                out: args.out,
                incremental: args.incremental,
                limit_rate: args.limit_rate,
            };
            let state_file = StateFile { config, profile: global.profile.clone() };
            pull::pull(api, args, state_file, output).await.map_err(|(e, jobs)| (e, Some(jobs)))
        }
        command => {
            let api = connect(global, explicit_profile, &config, http, clock).map_err(bare)?;
            single(command, &api, &global.profile).await.map_err(bare)
        }
    }
}

fn bare(e: CliError) -> Failure {
    (e, None)
}

/// The API client of this run: `--token` as is, or the profile's tokens.
fn connect(
    global: &Global,
    explicit_profile: bool,
    config: &ConfigDir,
    http: api::Http,
    clock: Clock,
) -> Result<Arc<Api>, CliError> {
    let name = &global.profile;
    if let Some(token) = global.token.as_deref().filter(|t| !t.is_empty()) {
        let base = match &global.api {
            Some(api) => api.clone(),
            None if global.google => oauth::GOOGLE_API.to_owned(),
            None => match config.load_profile(name)? {
                Some(profile) => profile.api,
                None => return Err(CliError::usage("--token needs --api URL (or --google)")),
            },
        };
        check_base(&base)?;
        return Ok(Api::with_token(http, &base, token.to_owned(), clock));
    }
    let profile = match config.load_profile(name)? {
        Some(profile) => profile,
        None if explicit_profile => {
            return Err(CliError::usage(format!(
                "unknown profile {name:?}; create it with dataport login --profile {name}"
            )));
        }
        None => return Err(CliError::auth("not signed in; run dataport login (or pass --token)")),
    };
    if profile.access_token.is_none() && profile.refresh_token.is_none() {
        return Err(CliError::auth(format!("profile {name} is not signed in; run dataport login")));
    }
    if let Some(api) = &global.api {
        check_base(api)?;
    }
    Ok(Api::with_profile(http, global.api.as_deref(), config.clone(), name, profile, clock))
}

fn check_base(base: &str) -> Result<(), CliError> {
    match reqwest::Url::parse(base) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
        _ => Err(CliError::usage(format!("{base:?} is not an http(s) URL"))),
    }
}

async fn login(
    args: LoginArgs,
    global: &Global,
    config: &ConfigDir,
    http: &api::Http,
    output: &Output,
) -> Result<Report, CliError> {
    let name = &global.profile;
    let resources: Vec<String> = args.resources.iter().map(|g| g.trim().to_owned()).collect();
    for (i, group) in resources.iter().enumerate() {
        if group.is_empty() || resources[..i].contains(group) {
            return Err(CliError::usage(format!("--resources: empty or repeated group {group:?}")));
        }
    }
    let secrets = match &args.client_secrets {
        Some(path) => {
            let bytes =
                std::fs::read(path).map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
            Some(oauth::parse_client_secrets(&bytes)?)
        }
        None => None,
    };
    let existing = config.load_profile(name)?;
    if global.google && args.server.is_some() {
        return Err(CliError::usage("use either --google or --server URL, not both"));
    }
    let (endpoints, server) = if global.google {
        (Endpoints::google(), oauth::GOOGLE_ISSUER.to_owned())
    } else if let Some(server) = &args.server {
        check_base(server)?;
        let endpoints = Endpoints::discover(&http.oauth, server).await?;
        (endpoints, server.trim_end_matches('/').to_owned())
    } else if let Some(profile) = &existing {
        if profile.google {
            (Endpoints::google(), profile.server.clone())
        } else {
            (Endpoints::discover(&http.oauth, &profile.server).await?, profile.server.clone())
        }
    } else {
        return Err(CliError::usage("dataport login needs --server URL (a dataport server) or --google"));
    };
    let same_server = existing.as_ref().filter(|p| p.server == server);
    let client_id = args
        .client_id
        .clone()
        .or_else(|| secrets.as_ref().map(|s| s.client.id.clone()))
        .or_else(|| same_server.map(|p| p.client_id.clone()));
    let client_id = match client_id {
        Some(id) => id,
        None if endpoints.google => {
            return Err(CliError::usage(
                "--google needs a Google Cloud OAuth client: --client-secrets client_secret.json (or --client-id and --client-secret)",
            ));
        }
        None => oauth::DEMO_CLIENT.to_owned(),
    };
    let client_secret = args
        .client_secret
        .clone()
        .or_else(|| secrets.as_ref().and_then(|s| s.client.secret.clone()))
        .or_else(|| same_server.filter(|p| p.client_id == client_id).and_then(|p| p.client_secret.clone()));
    let client = Client { id: client_id, secret: client_secret };
    let mut endpoints = endpoints;
    if let Some(token_uri) = secrets.as_ref().and_then(|s| s.token_uri.clone()).filter(|_| endpoints.google) {
        endpoints.token = token_uri;
    }
    let signed =
        oauth::sign_in(&http.oauth, &endpoints, &client, &resources, !args.no_browser, &|line| eprintln!("{line}"))
            .await?;
    let profile = Profile {
        server: server.clone(),
        api: endpoints.api.clone(),
        token_endpoint: endpoints.token.clone(),
        revocation_endpoint: endpoints.revocation.clone(),
        client_id: client.id,
        client_secret: client.secret,
        access_token: Some(signed.tokens.access_token),
        expires_at: signed.tokens.expires_in.map(|s| Timestamp::now().unix_seconds() + s),
        refresh_token: signed.tokens.refresh_token,
        granted: signed.granted.clone(),
        google: endpoints.google,
    };
    config.save_profile(name, &profile)?;
    let mut human =
        vec![format!("Signed in to {server} (profile {name})."), format!("Granted: {}", signed.granted.join(", "))];
    if !signed.not_granted.is_empty() {
        let line = format!("Not granted: {}", signed.not_granted.join(", "));
        output.note(&format!("warning: the consent left out {}", signed.not_granted.join(", ")));
        human.push(line);
    }
    Ok(Report {
        json: json!({ "profile": name, "server": server, "granted": signed.granted, "notGranted": signed.not_granted }),
        human,
    })
}

/// status, check, cancel, retry, reset.
async fn single(command: Command, api: &Api, profile: &str) -> Result<Report, CliError> {
    match command {
        Command::Status { job } => {
            let state = api.state(&job).await.map_err(|e| e.context(&format!("job {job}")))?;
            let mut human = vec![format!("Job {job}: {}", state.state.as_str())];
            if let Some(start) = state.start_time {
                human.push(format!("startTime: {start}"));
            }
            human.push(format!("exportTime: {}", state.export_time));
            if !state.urls.is_empty() {
                human.push(format!("urls: {}", state.urls.len()));
            }
            let json = serde_json::to_value(&state).map_err(|e| CliError::network(e.to_string()))?;
            Ok(Report { json, human })
        }
        Command::Check => {
            let check = api.check().await?;
            let list = |groups: &[String]| if groups.is_empty() { "none".to_owned() } else { groups.join(", ") };
            Ok(Report {
                human: vec![
                    format!("One-time: {}", list(&check.one_time_resources)),
                    format!("Time-based: {}", list(&check.time_based_resources)),
                ],
                json: json!({
                    "oneTimeResources": check.one_time_resources,
                    "timeBasedResources": check.time_based_resources,
                }),
            })
        }
        Command::Cancel { job } => {
            api.cancel(&job).await.map_err(|e| e.context(&format!("job {job}")))?;
            Ok(Report {
                json: json!({ "jobId": job, "cancelled": true }),
                human: vec![format!("Cancelled job {job}.")],
            })
        }
        Command::Retry { job } => {
            let retried = api.retry(&job).await.map_err(|e| e.context(&format!("job {job}")))?;
            let new_job = JobId::from_server(&retried.archive_job_id, "retry's answer")?;
            Ok(Report { json: json!({ "archiveJobId": new_job, "retryOf": job }), human: vec![new_job.to_string()] })
        }
        Command::Reset => {
            api.reset().await?;
            api.forget_tokens().await?;
            Ok(Report {
                json: json!({ "reset": true, "profile": profile }),
                human: vec![format!(
                    "Authorization reset; the tokens of profile {profile} are forgotten. Run dataport login to export again."
                )],
            })
        }
        Command::Login(_) | Command::Pull(_) => Err(CliError::usage("not a single-call command")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_suffixes() {
        assert_eq!(parse_rate("100000"), Ok(100_000));
        assert_eq!(parse_rate("64k"), Ok(65_536));
        assert_eq!(parse_rate("1.5M"), Ok(1_572_864));
        assert_eq!(parse_rate("2G"), Ok(2_147_483_648));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("10x").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_documents_the_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        for code in ["2  usage", "3  auth", "4  exhausted", "5  job failed", "6  network"] {
            assert!(help.contains(code), "{code}");
        }
    }
}

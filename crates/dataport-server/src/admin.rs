//! Operator commands: users, OAuth clients, tokens and the audit log. Each opens the core on the
//! same database as the server and calls one of its use cases, so they work whether or not the
//! server is running.

use std::io::{BufRead, IsTerminal};

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};

use dataport_core::Dataport;
use dataport_core::admin::{MIN_PASSWORD_CHARS, NewClient};
use dataport_core::auth::ACCESS_TOKEN_SECONDS;
use dataport_core::consent::Duration;
use dataport_core::model::{Client, JobRecord, RefreshRotation};
use dataport_core::oauth::refresh_rotation;
use dataport_types::{State, Timestamp};

use crate::DataDir;

#[derive(Args)]
pub struct TokenArgs {
    #[command(flatten)]
    data: DataDir,
    /// Username (created if it does not exist).
    #[arg(long)]
    user: String,
    /// OAuth client id (created if it does not exist).
    #[arg(long)]
    client: String,
    /// Comma-separated resource groups, e.g. myactivity.search,chrome.history.
    #[arg(long, value_delimiter = ',', required = true)]
    resources: Vec<String>,
    /// one-time, 30d or 180d.
    #[arg(long, default_value = "one-time", value_parser = parse_duration)]
    access: Duration,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = ACCESS_TOKEN_SECONDS)]
    token_seconds: i64,
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    Duration::from_label(s).ok_or_else(|| format!("{s:?} is not one of one-time, 30d, 180d"))
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from stdin when it is not a terminal, else prompted.
    Add {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        username: String,
        /// The user's id in your systems, which selects their data (default: the username).
        #[arg(long)]
        subject: Option<String>,
    },
    /// List users: username, subject, and whether they are disabled.
    List {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password (read like `add`).
    Passwd {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        username: String,
    },
    /// Disable a user (revoking their tokens), or enable them again with --enable.
    Disable {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        username: String,
        #[arg(long)]
        enable: bool,
    },
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register an app. Prints its client id and, once, its secret (stored only as a hash).
    Add {
        #[command(flatten)]
        data: DataDir,
        /// The name the consent page shows.
        #[arg(long)]
        name: String,
        /// Allowed redirect URI (repeatable); loopback URIs match on any port.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A native or browser app without a secret (PKCE required).
        #[arg(long)]
        public: bool,
        /// Choose the client id (default: generated).
        #[arg(long)]
        id: Option<String>,
        /// What a refresh does to the app's refresh token: never (it keeps working, as at
        /// Google) or rotate (a new one each time; reuse revokes them all). Default: never for a
        /// confidential app, rotate for a public one.
        #[arg(long, value_enum)]
        refresh_rotation: Option<RotationArg>,
        /// Print {"client_id": …, "client_secret": …}.
        #[arg(long)]
        json: bool,
    },
    /// Change an app's settings.
    Update {
        #[command(flatten)]
        data: DataDir,
        #[arg(long = "client-id")]
        client_id: String,
        /// never, rotate, or default (the default for the app's type, see `add`).
        #[arg(long, value_enum)]
        refresh_rotation: RotationArg,
    },
    /// List registered apps.
    List {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        json: bool,
    },
    /// Disable an app (revoking its tokens), or enable it again with --enable.
    Disable {
        #[command(flatten)]
        data: DataDir,
        #[arg(long = "client-id")]
        client_id: String,
        #[arg(long)]
        enable: bool,
    },
}

/// `--refresh-rotation`: an override, or the default for the client's type.
#[derive(Clone, Copy, ValueEnum)]
pub enum RotationArg {
    Never,
    Rotate,
    Default,
}

impl RotationArg {
    fn rotation(self) -> Option<RefreshRotation> {
        match self {
            Self::Never => Some(RefreshRotation::Never),
            Self::Rotate => Some(RefreshRotation::Rotate),
            Self::Default => None,
        }
    }
}

/// A client's refresh rotation as `admin client list` shows it: the one in force, and whether
/// it is the operator's choice or the default for the client's type.
fn rotation_shown(client: &Client) -> (&'static str, bool) {
    (refresh_rotation(client).as_str(), client.refresh_rotation.is_none())
}

#[derive(Args)]
pub struct AuditArgs {
    #[command(flatten)]
    data: DataDir,
    /// Only entries at or after this time: RFC 3339 (2026-01-31T12:00:00Z) or an age (90m, 24h, 7d).
    #[arg(long, value_parser = parse_since)]
    since: Option<Timestamp>,
    /// Only entries about this user (username).
    #[arg(long)]
    user: Option<String>,
    /// Only this event (consent.granted, token.issued, export.initiated, archive.downloaded, …).
    #[arg(long)]
    event: Option<String>,
    /// How many of the newest matching entries.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

/// `admin jobs`: lists jobs, or shows one with `admin jobs show ID`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct JobsArgs {
    #[command(subcommand)]
    command: Option<JobsCommand>,
    #[command(flatten)]
    list: JobsList,
}

#[derive(Subcommand)]
pub enum JobsCommand {
    /// One job: attempts, lease owner, failure reason, progress and parts.
    Show {
        #[command(flatten)]
        data: DataDir,
        /// The archive job id.
        id: String,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct JobsList {
    #[command(flatten)]
    data: DataDir,
    /// Only jobs in this state: IN_PROGRESS, COMPLETE, FAILED or CANCELLED.
    #[arg(long, value_parser = parse_state)]
    state: Option<State>,
    /// Only jobs of this user (username).
    #[arg(long)]
    user: Option<String>,
    /// How many of the newest matching jobs.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

fn parse_state(s: &str) -> Result<State, String> {
    match State::parse(&s.to_ascii_uppercase().replace('-', "_")) {
        Some(State::StateUnspecified) | None => {
            Err(format!("{s:?}: expected IN_PROGRESS, COMPLETE, FAILED or CANCELLED"))
        }
        Some(state) => Ok(state),
    }
}

/// An RFC 3339 time, or an age before now: a number with `s`, `m`, `h` or `d`.
fn parse_since(s: &str) -> Result<Timestamp, String> {
    if let Ok(at) = Timestamp::parse(s) {
        return Ok(at);
    }
    let unit = match s.chars().last() {
        Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3600,
        Some('d') => 86_400,
        _ => 0,
    };
    let n: Option<i64> = s.get(..s.len().saturating_sub(1)).and_then(|n| n.parse().ok());
    match n {
        Some(n) if unit > 0 && n >= 0 => {
            Ok(Timestamp::from_micros(Timestamp::now().micros().saturating_sub(n.saturating_mul(unit * 1_000_000))))
        }
        _ => Err(format!("{s:?}: expected an RFC 3339 time (2026-01-31T12:00:00Z) or an age (90m, 24h, 7d)")),
    }
}

/// Opens the core on the data directory and database the options name (no workers run).
pub async fn open(data: &DataDir) -> anyhow::Result<Dataport> {
    Ok(Dataport::open(data.config()).await?)
}

/// Reads a new password: one line of stdin in scripts, a double prompt at a terminal.
fn read_password() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ")?;
        if rpassword::prompt_password("Repeat it: ")? != first {
            bail!("the passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.chars().count() < MIN_PASSWORD_CHARS {
        bail!("a password needs at least {MIN_PASSWORD_CHARS} characters");
    }
    Ok(password)
}

/// `admin token`: grants the groups (creating the user and the client if needed) and prints a
/// fresh access token, skipping the consent pages.
pub async fn token(args: TokenArgs) -> anyhow::Result<()> {
    if args.token_seconds <= 0 {
        bail!("--token-seconds must be positive");
    }
    let core = open(&args.data).await?;
    let token = core.admin_token(&args.user, &args.client, &args.resources, args.access, args.token_seconds).await;
    core.close().await;
    println!("{}", token?);
    Ok(())
}

pub async fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { data, username, subject } => {
            let password = read_password()?;
            let core = open(&data).await?;
            let created = core.add_user(&username, subject.as_deref(), &password).await;
            core.close().await;
            let user = created?;
            println!("created user {} (subject {})", user.username, user.subject);
        }
        UserCommand::List { data, json } => {
            let core = open(&data).await?;
            let users = core.users().await;
            core.close().await;
            for u in users? {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({ "username": u.username, "subject": u.subject, "disabled": u.disabled })
                    );
                } else {
                    println!("{}\t{}{}", u.username, u.subject, if u.disabled { "\t(disabled)" } else { "" });
                }
            }
        }
        UserCommand::Passwd { data, username } => {
            let password = read_password()?;
            let core = open(&data).await?;
            let done = core.set_password(&username, &password).await;
            core.close().await;
            done?;
            println!("password of {username} changed");
        }
        UserCommand::Disable { data, username, enable } => {
            let core = open(&data).await?;
            let done = core.set_user_disabled(&username, !enable).await;
            core.close().await;
            done?;
            println!("user {username} {}", if enable { "enabled" } else { "disabled; their tokens are revoked" });
        }
    }
    Ok(())
}

pub async fn client(command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Add { data, name, redirect_uris, public, id, refresh_rotation, json } => {
            let core = open(&data).await?;
            let created = core
                .add_client(&name, redirect_uris, public, id, refresh_rotation.and_then(RotationArg::rotation))
                .await;
            core.close().await;
            let NewClient { client, secret } = created?;
            let id = client.id;
            if json {
                println!("{}", serde_json::json!({ "client_id": id, "client_secret": secret }));
            } else {
                println!("client_id:     {id}");
                match secret {
                    Some(secret) => println!("client_secret: {secret}\n(shown once; only its hash is stored)"),
                    None => println!("public client: no secret; PKCE is required"),
                }
            }
        }
        ClientCommand::List { data, json } => {
            let core = open(&data).await?;
            let clients = core.clients().await;
            core.close().await;
            for c in clients? {
                let (rotation, by_default) = rotation_shown(&c);
                if json {
                    let line = serde_json::json!({
                        "client_id": c.id, "name": c.name, "redirect_uris": c.redirect_uris,
                        "public": c.public, "disabled": c.disabled,
                        "refresh_rotation": rotation, "refresh_rotation_default": by_default,
                    });
                    println!("{line}");
                } else {
                    let kind = if c.public { "public" } else { "confidential" };
                    let state = if c.disabled { " (disabled)" } else { "" };
                    let rotation = if by_default { format!("{rotation} (default)") } else { rotation.to_owned() };
                    println!(
                        "{}\t{}\t{kind}{state}\trefresh-rotation={rotation}\t{}",
                        c.id,
                        c.name,
                        c.redirect_uris.join(" ")
                    );
                }
            }
        }
        ClientCommand::Update { data, client_id, refresh_rotation } => {
            let core = open(&data).await?;
            let done = core.set_client_refresh_rotation(&client_id, refresh_rotation.rotation()).await;
            core.close().await;
            done?;
            println!("client {client_id} updated");
        }
        ClientCommand::Disable { data, client_id, enable } => {
            let core = open(&data).await?;
            let done = core.set_client_disabled(&client_id, !enable).await;
            core.close().await;
            done?;
            println!("client {client_id} {}", if enable { "enabled" } else { "disabled; its tokens are revoked" });
        }
    }
    Ok(())
}

pub async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let core = open(&args.data).await?;
    let entries = core.audit_log(args.since, args.user.as_deref(), args.event.as_deref(), args.limit).await;
    core.close().await;
    for e in entries? {
        if args.json {
            println!("{}", serde_json::to_string(&e)?);
        } else {
            let detail = if e.detail.is_null() { String::new() } else { e.detail.to_string() };
            println!(
                "{}\t{}\tuser={}\tclient={}\tgroups={}\tjob={}\t{detail}",
                e.at,
                e.event,
                e.user_id.as_deref().unwrap_or("-"),
                e.client_id.as_deref().unwrap_or("-"),
                if e.resources.is_empty() { "-".to_owned() } else { e.resources.join(",") },
                e.job_id.as_deref().unwrap_or("-"),
            );
        }
    }
    Ok(())
}

/// A job as `admin jobs --json` and `admin jobs show --json` print it.
fn job_json(record: &JobRecord) -> serde_json::Value {
    let job = &record.job;
    serde_json::json!({
        "id": job.id,
        "state": job.state.as_str(),
        "userId": job.user_id,
        "clientId": job.client_id,
        "resources": job.resources,
        "accessType": job.access_type.as_str(),
        "createdAt": job.created_at,
        "finishedAt": job.finished_at,
        "startTime": job.start_time,
        "endTime": job.end_time,
        "retryOf": job.retry_of,
        "retryIndex": job.retry_index,
        "attempts": job.attempt,
        "leaseOwner": record.lease_owner,
        "leaseExpiresAt": record.lease_expires_at,
        "failureReason": job.failure_reason,
        "archiveRevokedAt": job.archive_revoked_at,
        "progress": job.progress,
        "parts": job.parts.iter().map(|p| serde_json::json!({
            "index": p.index, "size": p.size, "sha256": p.sha256, "blobKey": p.blob_key,
        })).collect::<Vec<_>>(),
    })
}

fn or_dash<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

pub async fn jobs(args: JobsArgs) -> anyhow::Result<()> {
    match args.command {
        None => {
            let JobsList { data, state, user, limit, json } = args.list;
            let core = open(&data).await?;
            let listed = core.jobs_of(state, user.as_deref(), limit).await;
            core.close().await;
            for record in listed? {
                if json {
                    println!("{}", job_json(&record));
                } else {
                    let job = &record.job;
                    println!(
                        "{}\t{}\tcreated={}\tuser={}\tclient={}\tattempts={}\tlease={}\tgroups={}",
                        job.id,
                        job.state.as_str(),
                        job.created_at,
                        job.user_id,
                        job.client_id,
                        job.attempt,
                        or_dash(record.lease_owner.as_deref()),
                        job.resources.join(","),
                    );
                }
            }
        }
        Some(JobsCommand::Show { data, id, json }) => {
            let core = open(&data).await?;
            let found = core.job_record(&id).await;
            core.close().await;
            let record = found?;
            if json {
                println!("{}", job_json(&record));
                return Ok(());
            }
            let job = &record.job;
            println!("job:            {}", job.id);
            println!("state:          {}", job.state.as_str());
            println!("user:           {}", job.user_id);
            println!("client:         {}", job.client_id);
            println!("groups:         {}", job.resources.join(", "));
            println!("access type:    {}", job.access_type.as_str());
            println!("created:        {}", job.created_at);
            println!("finished:       {}", or_dash(job.finished_at));
            println!("retry of:       {} (retry {})", or_dash(job.retry_of.as_deref()), job.retry_index);
            println!("attempts:       {}", job.attempt);
            println!("lease owner:    {}", or_dash(record.lease_owner.as_deref()));
            println!("lease expires:  {}", or_dash(record.lease_expires_at));
            println!("failure reason: {}", or_dash(job.failure_reason.as_deref()));
            println!("revoked:        {}", or_dash(job.archive_revoked_at));
            match job.progress {
                Some(p) => println!(
                    "progress:       {} groups, {} records, {} bytes, {} parts written",
                    p.groups_done, p.records, p.bytes, p.parts_written
                ),
                None => println!("progress:       -"),
            }
            println!("parts:          {}", job.parts.len());
            for p in &job.parts {
                println!("  {}\t{} bytes\tsha256={}\t{}", p.index, p.size, p.sha256, p.blob_key);
            }
        }
    }
    Ok(())
}

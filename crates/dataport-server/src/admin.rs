//! Operator commands: users, OAuth clients, tokens and the audit log. Each opens the core on the
//! same database as the server and calls one of its use cases, so they work whether or not the
//! server is running.

use std::io::{BufRead, IsTerminal};

use anyhow::bail;
use clap::{Args, Subcommand};

use dataport_core::Dataport;
use dataport_core::admin::{MIN_PASSWORD_CHARS, NewClient};
use dataport_core::auth::ACCESS_TOKEN_SECONDS;
use dataport_core::consent::Duration;

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
        /// Print {"client_id": …, "client_secret": …}.
        #[arg(long)]
        json: bool,
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

#[derive(Args)]
pub struct AuditArgs {
    #[command(flatten)]
    data: DataDir,
    /// How many of the newest entries.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
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
        ClientCommand::Add { data, name, redirect_uris, public, id, json } => {
            let core = open(&data).await?;
            let created = core.add_client(&name, redirect_uris, public, id).await;
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
                if json {
                    let line = serde_json::json!({
                        "client_id": c.id, "name": c.name, "redirect_uris": c.redirect_uris,
                        "public": c.public, "disabled": c.disabled,
                    });
                    println!("{line}");
                } else {
                    let kind = if c.public { "public" } else { "confidential" };
                    let state = if c.disabled { " (disabled)" } else { "" };
                    println!("{}\t{}\t{kind}{state}\t{}", c.id, c.name, c.redirect_uris.join(" "));
                }
            }
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
    let entries = core.audit_log(args.limit).await;
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

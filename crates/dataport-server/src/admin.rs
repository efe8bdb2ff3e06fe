//! Operator commands: users, OAuth clients and the audit log. They open the database directly,
//! so they work whether or not the server is running.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use dataport_core::Config;
use dataport_core::auth::{ACCESS_TOKEN_SECONDS, hash_token, issue_access_token, mint_secret};
use dataport_core::catalogue::Catalogue;
use dataport_core::consent::{self, Duration};
use dataport_core::oauth::is_loopback;
use dataport_core::store::{Client, SqliteStore, Store};
use dataport_core::users::hash_password;
use dataport_types::Timestamp;

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

pub async fn open(data: &DataDir) -> anyhow::Result<SqliteStore> {
    std::fs::create_dir_all(&data.data_dir)
        .with_context(|| format!("cannot create data directory {}", data.data_dir.display()))?;
    Ok(SqliteStore::open(&Config::new(&data.data_dir).database_path()).await?)
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
    if password.chars().count() < 8 {
        bail!("a password needs at least 8 characters");
    }
    Ok(password)
}

/// `admin token`: grants the groups (creating the user and the client if needed) and prints a
/// fresh access token, skipping the consent pages.
pub async fn token(args: TokenArgs) -> anyhow::Result<()> {
    if args.token_seconds <= 0 {
        bail!("--token-seconds must be positive");
    }
    let catalogue = match &args.data.catalogue {
        Some(path) => Catalogue::load(path)?,
        None => Catalogue::built_in(),
    };
    let store = open(&args.data).await?;
    let now = Timestamp::now();
    let user = store.ensure_user(&args.user, now).await?;
    let client = Client {
        id: args.client.clone(),
        name: args.client.clone(),
        redirect_uris: Vec::new(),
        public: true,
        disabled: false,
        secret_hash: None,
    };
    let client = store.ensure_client(&client, now).await?;
    let scopes = consent::grant(&store, &catalogue, &user.id, &client.id, &args.resources, args.access, now).await?;
    let token = issue_access_token(&store, &user.id, &client.id, scopes, now, args.token_seconds)
        .await
        .map_err(|e| anyhow::anyhow!("could not issue a token: {e}"))?;
    store.close().await;
    println!("{token}");
    Ok(())
}

async fn hashed_password() -> anyhow::Result<String> {
    let password = read_password()?;
    tokio::task::spawn_blocking(move || hash_password(&password)).await?.map_err(anyhow::Error::msg)
}

pub async fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { data, username, subject } => {
            if username.trim().is_empty() || username.len() > 256 {
                bail!("a username must be 1 to 256 characters");
            }
            let hash = hashed_password().await?;
            let store = open(&data).await?;
            let subject = subject.unwrap_or_else(|| username.clone());
            let created = store.create_user(&username, &subject, Some(&hash), Timestamp::now()).await?;
            store.close().await;
            match created {
                Some(_) => println!("created user {username}"),
                None => bail!("user {username} already exists (use `admin user passwd`)"),
            }
        }
        UserCommand::Passwd { data, username } => {
            let hash = hashed_password().await?;
            let store = open(&data).await?;
            let done = store.set_password(&username, &hash).await?;
            store.close().await;
            if !done {
                bail!("no user {username}");
            }
            println!("password of {username} changed");
        }
        UserCommand::Disable { data, username, enable } => {
            let store = open(&data).await?;
            let done = store.set_user_disabled(&username, !enable, Timestamp::now()).await?;
            store.close().await;
            if !done {
                bail!("no user {username}");
            }
            println!("user {username} {}", if enable { "enabled" } else { "disabled; their tokens are revoked" });
        }
    }
    Ok(())
}

pub async fn client(command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Add { data, name, redirect_uris, public, id, json } => {
            for uri in &redirect_uris {
                // https, http on loopback (RFC 8252 §7.3), or a private-use scheme such as
                // com.example.app:/cb (RFC 8252 §7.1).
                let private_scheme =
                    uri.split_once(':').is_some_and(|(scheme, _)| scheme.contains('.') && !scheme.contains('/'));
                if !(uri.starts_with("https://") || is_loopback(uri) || private_scheme) || uri.contains('#') {
                    bail!("redirect URI {uri:?}: use https, a loopback http URI, or an app scheme; no fragment");
                }
            }
            let id = id.unwrap_or_else(|| format!("dp-{}", uuid::Uuid::new_v4().simple()));
            let secret = (!public).then(|| mint_secret("dps_").value);
            let client = Client {
                id: id.clone(),
                name,
                redirect_uris,
                public,
                disabled: false,
                secret_hash: secret.as_deref().map(hash_token),
            };
            let store = open(&data).await?;
            let created = store.create_client(&client, Timestamp::now()).await?;
            store.close().await;
            if !created {
                bail!("client {id} already exists");
            }
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
            let store = open(&data).await?;
            let clients = store.clients().await?;
            store.close().await;
            for c in clients {
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
            let store = open(&data).await?;
            let done = store.set_client_disabled(&client_id, !enable, Timestamp::now()).await?;
            store.close().await;
            if !done {
                bail!("no client {client_id}");
            }
            println!("client {client_id} {}", if enable { "enabled" } else { "disabled; its tokens are revoked" });
        }
    }
    Ok(())
}

pub async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let store = open(&args.data).await?;
    let entries = store.audit_log(args.limit).await?;
    store.close().await;
    for e in entries {
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

//! Runtime configuration of the core, with the defaults of emulator mode (SPEC §13).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::archive::ArchiveSettings;
use crate::consent::Duration;
use crate::grants::Quota;
use crate::signing::SigningKey;
use crate::sources::emulator::EmulatorConfig;
use crate::users::ThrottlePolicy;

/// Everything the core needs to run. [`Config::new`] gives emulator-mode defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// Holds the SQLite database, the blobs and the generated signing key.
    pub data_dir: PathBuf,
    /// Where the records live (SPEC §15); `None`: `sqlite://<data_dir>/dataport.sqlite`.
    pub database_url: Option<String>,
    /// Where archive parts live (SPEC §15); `None`: `file://<data_dir>/blobs`.
    pub blob_url: Option<String>,
    /// Answer a download with a 302 to a presigned URL of the blob store, where it has them
    /// (S3), instead of streaming the part through this server.
    pub download_redirect: bool,
    /// Origin that clients reach the server at, e.g. `http://127.0.0.1:8080`; used in URLs.
    pub public_origin: String,
    /// ErrorInfo `domain`.
    pub error_domain: String,
    /// Catalogue file; `None` for the built-in one.
    pub catalogue_path: Option<PathBuf>,
    /// Download URL keys; the first signs. Empty: a key generated once and kept in `data_dir`.
    pub signing_keys: Vec<SigningKey>,
    /// Lifetime of a signed URL.
    pub url_ttl_seconds: i64,
    /// How long archives stay downloadable after completion.
    pub retention_seconds: i64,
    pub quota: Quota,
    /// Retries allowed per chain (SPEC §7).
    pub max_retries: u32,
    /// How far in the future `endTime` may be and still be clamped to now.
    pub end_time_skew_seconds: i64,
    pub archive: ArchiveSettings,
    pub emulator: EmulatorConfig,
    /// Concurrent exports in this process (when its role runs workers).
    pub workers: usize,
    /// What this process does (SPEC §15).
    pub role: Role,
    /// A worker that stops heartbeating loses its job after this long.
    pub lease_seconds: i64,
    /// Attempts before a job that keeps failing transiently is marked FAILED.
    pub max_attempts: u32,
    /// How often the retention sweep runs.
    pub sweep_interval_seconds: u64,
    /// API requests per minute per (user, client); 0 disables the limit.
    pub rate_limit_per_minute: u32,
    /// Requests per minute per client address to sign-in, consent, token and revocation; 0 disables.
    pub auth_rate_limit_per_minute: u32,
    /// Prefix that turns a group name into its OAuth scope.
    pub scope_prefix: String,
    /// Durations the consent page offers (SPEC §6: the operator may restrict them).
    pub consent_durations: Vec<Duration>,
    /// Lifetime of access tokens (Google: 3599 s).
    pub access_token_seconds: i64,
    /// Lifetime of refresh tokens of one-time grants.
    pub one_time_refresh_seconds: i64,
    /// A refresh token unused for this long stops working (Google: six months).
    pub refresh_idle_seconds: i64,
    /// Live refresh tokens kept per (user, client); a consent beyond it drops the oldest (Google: 100).
    pub refresh_token_cap: u32,
    /// A rotated refresh token presented again within this many seconds of its rotation gets
    /// the same successor instead of revoking its family (two refreshes racing from one app).
    pub refresh_reuse_seconds: i64,
    /// Failed sign-ins allowed per account and per address.
    pub login_throttle: ThrottlePolicy,
    /// Trusted-header sign-in (SPEC §10.6): the header carrying the subject id. Off when `None`.
    pub trusted_header: Option<String>,
    /// The reverse proxies in front of this server: their `Forwarded` / `X-Forwarded-For` is
    /// believed, and only they may set `trusted_header`.
    pub trusted_proxies: ProxyList,
    /// Caps on connections and downloads (SPEC §11).
    pub limits: Limits,
    /// Create the demo user and client (SPEC §13). `None`: only in pure emulator mode on loopback.
    pub demo: Option<bool>,
    /// Where `/metrics` (Prometheus) is served, on a listener of its own; `None`: nowhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// What one `dataportd serve` process does (SPEC §15).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// The API, downloads, the workers and the sweep: the one process of an embedded deployment.
    #[default]
    All,
    /// The API and downloads, no exports.
    Api,
    /// Exports and the sweep; HTTP serves only `/healthz` and `/readyz`.
    Worker,
}

impl Role {
    pub fn runs_api(self) -> bool {
        self != Self::Worker
    }

    pub fn runs_workers(self) -> bool {
        self != Self::Api
    }
}

/// Caps that keep one client from tying up the server's memory and connections (SPEC §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Open connections in all; beyond it the server stops accepting until one closes.
    pub connections: usize,
    /// Open connections from one client address (a trusted proxy is exempt); beyond it a new
    /// connection is answered 503 and closed.
    pub connections_per_address: usize,
    /// Downloads streaming at once to one client address; beyond it 429.
    pub downloads_per_address: usize,
    /// Downloads streaming at once of one job; beyond it 429.
    pub downloads_per_job: usize,
    /// A client that accepts no bytes of a response for this long is disconnected.
    pub write_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connections: 4096,
            connections_per_address: 256,
            downloads_per_address: 16,
            downloads_per_job: 8,
            write_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// Addresses and CIDR ranges of trusted reverse proxies, e.g. `10.0.0.5,192.168.0.0/16,::1`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyList(Vec<(IpAddr, u8)>);

impl ProxyList {
    /// Parses comma-separated addresses and `ADDRESS/PREFIX` ranges.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (addr, prefix) = item.split_once('/').unwrap_or((item, ""));
            let addr: IpAddr = addr.parse().map_err(|_| format!("{item:?} is not an IP address or CIDR range"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = if prefix.is_empty() {
                max
            } else {
                prefix.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("{item:?}: bad prefix length"))?
            };
            ranges.push((addr, prefix));
        }
        Ok(Self(ranges))
    }

    /// Whether `ip` is one of the proxies (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|(net, prefix)| match (net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                u32::from(*net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                u128::from(*net) & mask == u128::from(ip) & mask
            }
            _ => false,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<ProxyList> for ProxyList {
    fn from_iter<I: IntoIterator<Item = ProxyList>>(lists: I) -> Self {
        Self(lists.into_iter().flat_map(|list| list.0).collect())
    }
}

impl Config {
    /// Emulator-mode defaults with everything under `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            database_url: None,
            blob_url: None,
            download_redirect: false,
            public_origin: "http://127.0.0.1:8080".to_owned(),
            error_domain: "dataportability.googleapis.com".to_owned(),
            catalogue_path: None,
            signing_keys: Vec::new(),
            url_ttl_seconds: 6 * 3600,
            retention_seconds: 14 * 86_400,
            quota: Quota::default(),
            max_retries: 3,
            end_time_skew_seconds: 300,
            archive: ArchiveSettings::default(),
            emulator: EmulatorConfig::default(),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            role: Role::All,
            lease_seconds: 20,
            max_attempts: 5,
            sweep_interval_seconds: 60,
            rate_limit_per_minute: 6000,
            auth_rate_limit_per_minute: 600,
            scope_prefix: crate::catalogue::GOOGLE_SCOPE_PREFIX.to_owned(),
            consent_durations: Duration::ALL.to_vec(),
            access_token_seconds: crate::auth::ACCESS_TOKEN_SECONDS,
            one_time_refresh_seconds: 7 * 86_400,
            refresh_idle_seconds: 183 * 86_400,
            refresh_token_cap: 100,
            refresh_reuse_seconds: 30,
            login_throttle: ThrottlePolicy::default(),
            trusted_header: None,
            trusted_proxies: ProxyList::default(),
            limits: Limits::default(),
            demo: None,
            metrics_listen: None,
        }
    }

    /// Refuses combinations that cannot work: with SQLite one process owns the database file, so
    /// API and workers cannot be split over processes.
    pub fn validate(&self) -> Result<(), String> {
        if self.role != Role::All && self.database_url().starts_with("sqlite:") {
            return Err(format!(
                "--role {} needs a shared database: with SQLite one process owns the file, so only --role all \
                 is allowed; use --database-url postgres://… to run API and worker processes separately",
                match self.role {
                    Role::Api => "api",
                    _ => "worker",
                }
            ));
        }
        if self.download_redirect && !self.blob_url().starts_with("s3://") {
            return Err("--download-redirect needs an S3 blob store (--blob-url s3://…): only S3 has presigned URLs \
                        to redirect to"
                .to_owned());
        }
        Ok(())
    }

    /// The database URL in force: the configured one, or the embedded default.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("dataport.sqlite").display()))
    }

    /// The blob store URL in force: the configured one, or the embedded default.
    pub fn blob_url(&self) -> String {
        self.blob_url.clone().unwrap_or_else(|| format!("file://{}", self.data_dir.join("blobs").display()))
    }
}

/// `url` fit for logs and messages: the password of `user:password@` and the values of query
/// parameters whose names look secret ([`secret_parameter`]: libpq's `password=` and
/// `sslpassword=`, keys, tokens) become `***`. Total: whatever the string, nothing of a secret
/// in those two places is printed; the rest is kept byte for byte, so the operator sees the URL
/// they wrote. (Issue #22 finding 10: `?password=` was printed by `config check` and start-up
/// errors.)
pub fn redact_url(url: &str) -> String {
    // RFC 3986 §3: the query starts at the first '?' and ends at the first '#' after it.
    let (before_query, query_and_fragment) = match url.split_once('?') {
        Some((before, after)) => (before, Some(after)),
        None => (url, None),
    };
    let mut redacted = match before_query.split_once("://") {
        // The userinfo ends at the authority's last '@'. A password with an unescaped '/' would
        // end the authority early, so look up to the last '@' of everything before the query:
        // hiding too much beats printing a password.
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) if credentials.contains(':') => {
                let user = credentials.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            _ => before_query.to_owned(),
        },
        None => before_query.to_owned(),
    };
    if let Some(rest) = query_and_fragment {
        let (query, fragment) = match rest.split_once('#') {
            Some((query, fragment)) => (query, Some(fragment)),
            None => (rest, None),
        };
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if secret_parameter(name) => format!("{name}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&pairs.join("&"));
        if let Some(fragment) = fragment {
            redacted.push('#');
            redacted.push_str(fragment);
        }
    }
    redacted
}

/// Whether a URL query parameter's value is a secret, by its (percent-decoded) name: it mentions
/// a password, a secret, a token, a key or credentials (`password`, `sslpassword`, `passfile`,
/// `secret_access_key`, `session_token`, `sslkey`, …).
fn secret_parameter(name: &str) -> bool {
    let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy().to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "key", "credential", "auth", "sig"].iter().any(|word| name.contains(word))
}

/// Parses `kid:secret` pairs (secret base64url, at least 32 bytes), comma-separated.
pub fn parse_signing_keys(spec: &str) -> Result<Vec<SigningKey>, String> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|pair| {
            let (id, secret) = pair.trim().split_once(':').ok_or("a signing key must be KID:SECRET")?;
            let secret = URL_SAFE_NO_PAD
                .decode(secret.trim_end_matches('='))
                .map_err(|_| format!("signing key {id:?}: secret is not base64url"))?;
            if id.is_empty() || secret.len() < 32 {
                return Err(format!("signing key {id:?}: needs a key id and at least 32 bytes of secret"));
            }
            Ok(SigningKey { id: id.to_owned(), secret })
        })
        .collect()
}

/// The key kept in `<data_dir>/signing.key`, created on first use, so that URLs survive restarts.
///
/// Its id is derived from a hash of the secret ([`key_id`]), so that the id every URL carries
/// says nothing about the key. A file written by an older version, whose id was `local-` and the
/// first four bytes of the secret, is rewritten with the derived id (its URLs stop verifying;
/// the next state poll hands out fresh ones).
pub fn local_signing_key(data_dir: &Path) -> std::io::Result<SigningKey> {
    let path = data_dir.join("signing.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = parse_signing_keys(&text)
                .ok()
                .and_then(|keys| keys.into_iter().next())
                .ok_or_else(|| std::io::Error::other(format!("{} is not a valid signing key file", path.display())))?;
            if key.id == format!("local-{}", hex::encode(key.secret.get(..4).unwrap_or_default())) {
                let key = SigningKey { id: key_id(&key.secret), secret: key.secret };
                replace_private(&path, key_file(&key).as_bytes())?;
                tracing::warn!(path = %path.display(), "the signing key's id showed part of the key: replaced by a derived id");
                return Ok(key);
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            let key = SigningKey { id: key_id(&secret), secret: secret.to_vec() };
            match create_private(&path, key_file(&key).as_bytes()) {
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => local_signing_key(data_dir),
                Err(e) => Err(e),
                Ok(()) => Ok(key),
            }
        }
        Err(e) => Err(e),
    }
}

/// The id of a generated key: `k` and 12 hex digits of a domain-separated SHA-256 of the secret.
pub fn key_id(secret: &[u8]) -> String {
    let digest = Sha256::new().chain_update(b"dataport signing key id\0").chain_update(secret).finalize();
    format!("k{}", &hex::encode(digest)[..12])
}

fn key_file(key: &SigningKey) -> String {
    format!("{}:{}\n", key.id, URL_SAFE_NO_PAD.encode(&key.secret))
}

/// A private file next to `path` holding `bytes`, under a name no other process uses.
fn staged_private(path: &Path, bytes: &[u8]) -> std::io::Result<std::path::PathBuf> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}.tmp", hex::encode(rand::random::<[u8; 8]>())));
    let staged = std::path::PathBuf::from(name);
    write_private(&staged, bytes)?;
    Ok(staged)
}

/// Creates `path` holding `bytes`, complete or not at all: the file is written under another name
/// and linked into place, so that a process starting at the same moment (the nodes of a
/// deployment sharing a directory) never reads a half-written key. `AlreadyExists` when another
/// process created it first.
fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let staged = staged_private(path, bytes)?;
    let linked = std::fs::hard_link(&staged, path);
    std::fs::remove_file(&staged)?;
    linked
}

/// Atomically replaces `path` with a private file holding `bytes`.
fn replace_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::rename(staged_private(path, bytes)?, path)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_lists_match_addresses_and_ranges() {
        let list = ProxyList::parse("10.0.0.5, 192.168.0.0/16,::1,2001:db8::/32").expect("parse");
        for yes in ["10.0.0.5", "192.168.4.2", "::1", "2001:db8::7", "::ffff:10.0.0.5"] {
            assert!(list.contains(yes.parse().expect("ip")), "{yes}");
        }
        for no in ["10.0.0.6", "192.169.0.1", "::2", "2001:db9::1", "127.0.0.1"] {
            assert!(!list.contains(no.parse().expect("ip")), "{no}");
        }
        assert!(ProxyList::parse("0.0.0.0/0").expect("all").contains("8.8.8.8".parse().expect("ip")));
        assert!(ProxyList::parse("10.0.0.0/33").is_err());
        assert!(ProxyList::parse("proxy.example").is_err());
        assert!(ProxyList::parse("").expect("empty").is_empty());
    }

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cr%3At@db.internal:5432/dp?sslmode=require"),
            "postgres://app:***@db.internal:5432/dp?sslmode=require"
        );
        assert_eq!(redact_url("postgres://app@db/dp"), "postgres://app@db/dp");
        assert_eq!(
            redact_url("sqlite:///var/lib/dataport/dataport.sqlite"),
            "sqlite:///var/lib/dataport/dataport.sqlite"
        );
    }

    /// Issue #22 finding 10: `?password=` (libpq's other form) was printed as written.
    #[test]
    fn secret_query_parameters_in_urls_are_redacted() {
        for (url, redacted) in [
            (
                "postgres://app@db.internal/dp?sslmode=require&password=hunter2",
                "postgres://app@db.internal/dp?sslmode=require&password=***",
            ),
            ("postgresql:///dp?host=/run/pg&PassWord=hunter2", "postgresql:///dp?host=/run/pg&PassWord=***"),
            (
                "postgres://db/dp?sslpassword=hunter2&application_name=x",
                "postgres://db/dp?sslpassword=***&application_name=x",
            ),
            ("postgres://db/dp?pass%77ord=hunter2", "postgres://db/dp?pass%77ord=***"),
            ("postgres://app:hunter2@db/dp?password=hunter2#f", "postgres://app:***@db/dp?password=***#f"),
            ("postgres://app:hun/ter2@db/dp", "postgres://app:***@db/dp"),
            (
                "s3://bucket/p?endpoint=http://127.0.0.1:9000&secret_access_key=hunter2",
                "s3://bucket/p?endpoint=http://127.0.0.1:9000&secret_access_key=***",
            ),
            ("sqlite:dataport.sqlite?password=hunter2", "sqlite:dataport.sqlite?password=***"),
            ("postgres://db/dp?sslmode=require&&x", "postgres://db/dp?sslmode=require&&x"),
        ] {
            assert_eq!(redact_url(url), redacted, "{url}");
            assert!(!redact_url(url).contains("hunter2"), "{url}");
        }
    }

    /// Processes starting together on one directory all read one complete key.
    #[test]
    fn concurrent_starts_agree_on_one_complete_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().expect("tempdir");
            let keys: Vec<SigningKey> = std::thread::scope(|scope| {
                let starts: Vec<_> = (0..8).map(|_| scope.spawn(|| local_signing_key(dir.path()))).collect();
                starts.into_iter().map(|s| s.join().expect("join").expect("a complete key")).collect()
            });
            assert!(keys.windows(2).all(|pair| pair[0].secret == pair[1].secret), "one key for all");
            let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").flatten().map(|e| e.file_name()).collect();
            assert_eq!(left, ["signing.key"], "no staged file left");
        }
    }

    #[test]
    fn generated_key_ids_are_derived_not_copied() {
        let secret = [0xabu8; 32];
        let id = key_id(&secret);
        assert_eq!(id.len(), 13);
        assert!(!id.contains("abab"), "{id}");
        assert_eq!(id, key_id(&secret), "stable, so that every node of a deployment agrees");
        assert_ne!(id, key_id(&[0xacu8; 32]));
    }
}

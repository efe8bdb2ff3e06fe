//! Runtime configuration of the core, with the defaults of emulator mode (SPEC §13).

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::archive::ArchiveSettings;
use crate::consent::Duration;
use crate::emulator::EmulatorConfig;
use crate::grants::Quota;
use crate::signing::SigningKey;
use crate::users::ThrottlePolicy;

/// Everything the core needs to run. [`Config::new`] gives emulator-mode defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// Holds the SQLite database, the blobs and the generated signing key.
    pub data_dir: PathBuf,
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
    /// Concurrent exports in this process; 0 runs no workers (API only).
    pub workers: usize,
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
    /// Failed sign-ins allowed per account and per address.
    pub login_throttle: ThrottlePolicy,
    /// Trusted-header sign-in (SPEC §10.6): the header carrying the subject id. Off when `None`.
    pub trusted_header: Option<String>,
    /// Addresses of the reverse proxies allowed to set `trusted_header`.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Config {
    /// Emulator-mode defaults with everything under `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
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
            lease_seconds: 20,
            max_attempts: 5,
            sweep_interval_seconds: 60,
            rate_limit_per_minute: 6000,
            auth_rate_limit_per_minute: 600,
            scope_prefix: crate::catalogue::GOOGLE_SCOPE_PREFIX.to_owned(),
            consent_durations: Duration::ALL.to_vec(),
            access_token_seconds: crate::auth::ACCESS_TOKEN_SECONDS,
            one_time_refresh_seconds: 7 * 86_400,
            login_throttle: ThrottlePolicy::default(),
            trusted_header: None,
            trusted_proxies: Vec::new(),
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("dataport.sqlite")
    }

    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }
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
pub fn local_signing_key(data_dir: &Path) -> std::io::Result<SigningKey> {
    let path = data_dir.join("signing.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_signing_keys(&text)
            .ok()
            .and_then(|keys| keys.into_iter().next())
            .ok_or_else(|| std::io::Error::other(format!("{} is not a valid signing key file", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            let id = format!("local-{}", &hex::encode(&secret[..4]));
            let text = format!("{id}:{}\n", URL_SAFE_NO_PAD.encode(secret));
            match write_private(&path, text.as_bytes()) {
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => local_signing_key(data_dir),
                Err(e) => Err(e),
                Ok(()) => Ok(SigningKey { id, secret: secret.to_vec() }),
            }
        }
        Err(e) => Err(e),
    }
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

//! The user's configuration directory: one file per profile with its server and tokens
//! (`profiles/<P>.json`, mode 0600 in a 0700 directory), and the incremental state of each
//! profile (`state/<P>.json`: the last `exportTime` per group).
//!
//! Files are replaced atomically (written to a temporary file with the final mode, then renamed),
//! so a crash never leaves a half-written token file behind.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use dataport_types::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// Where profiles and state live.
#[derive(Clone, Debug)]
pub struct ConfigDir {
    root: PathBuf,
}

/// A signed-in server: where its API and token endpoint are, who we are to it, and the tokens.
///
/// `Debug` is written by hand so that tokens and secrets never reach a log or a panic message.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// The authorization server (its issuer, or Google's accounts origin).
    pub server: String,
    /// Base URL of the Data Portability API (`https://dataportability.googleapis.com`).
    pub api: String,
    pub token_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// When the access token expires, in Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The groups the user granted at the last sign-in.
    #[serde(default)]
    pub granted: Vec<String>,
    /// Whether this profile talks to Google itself (slower polling, no dataport extensions).
    #[serde(default)]
    pub google: bool,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("Profile")
            .field("server", &self.server)
            .field("api", &self.api)
            .field("token_endpoint", &self.token_endpoint)
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(&self.client_secret))
            .field("access_token", &redacted(&self.access_token))
            .field("expires_at", &self.expires_at)
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("granted", &self.granted)
            .field("google", &self.google)
            .finish()
    }
}

impl Profile {
    /// Forgets the tokens (after `authorization:reset`), keeping where and who to sign in again.
    pub fn forget_tokens(&mut self) {
        self.access_token = None;
        self.expires_at = None;
        self.refresh_token = None;
        self.granted.clear();
    }
}

/// What `--incremental` remembers of one group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupState {
    /// The `exportTime` of the last complete pull: the next pull's `startTime`.
    pub export_time: Timestamp,
    pub job_id: String,
    /// The server refused a start time for this group: it is pulled in full every time.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_time_filter: bool,
}

/// The incremental state of one profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub groups: BTreeMap<String, GroupState>,
}

/// Profile names are file names: letters, digits, `-`, `_` and `.` (not leading).
pub fn valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

impl ConfigDir {
    /// `explicit` (`--config-dir` / `DATAPORT_CONFIG_DIR`), else `$XDG_CONFIG_HOME/dataport`, else
    /// `~/.config/dataport`.
    pub fn locate(explicit: Option<PathBuf>) -> Result<Self, CliError> {
        if let Some(root) = explicit {
            return Ok(Self { root });
        }
        let non_empty = |key: &str| std::env::var_os(key).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(xdg) = non_empty("XDG_CONFIG_HOME") {
            return Ok(Self { root: xdg.join("dataport") });
        }
        match non_empty("HOME") {
            Some(home) => Ok(Self { root: home.join(".config").join("dataport") }),
            None => Err(CliError::usage("no configuration directory: set --config-dir, XDG_CONFIG_HOME or HOME")),
        }
    }

    fn profile_path(&self, name: &str) -> PathBuf {
        self.root.join("profiles").join(format!("{name}.json"))
    }

    fn state_path(&self, name: &str) -> PathBuf {
        self.root.join("state").join(format!("{name}.json"))
    }

    /// The profile `name`, or `None` if it was never created.
    pub fn load_profile(&self, name: &str) -> Result<Option<Profile>, CliError> {
        check_name(name)?;
        read_json(&self.profile_path(name))
    }

    /// Writes the profile (mode 0600, its directory 0700).
    pub fn save_profile(&self, name: &str, profile: &Profile) -> Result<(), CliError> {
        check_name(name)?;
        self.create_root()?;
        write_private_json(&self.profile_path(name), profile)
    }

    /// Creates the configuration directory, private (0700), if it does not exist yet; an
    /// existing one (a `--config-dir` the user chose) keeps its mode.
    fn create_root(&self) -> Result<(), CliError> {
        if self.root.exists() {
            return Ok(());
        }
        create_private_dir(&self.root)
            .map_err(|e| CliError::usage(format!("cannot create {}: {e}", self.root.display())))
    }

    /// The incremental state of profile `name` (empty if none yet).
    pub fn load_state(&self, name: &str) -> Result<State, CliError> {
        check_name(name)?;
        Ok(read_json(&self.state_path(name))?.unwrap_or_default())
    }

    pub fn save_state(&self, name: &str, state: &State) -> Result<(), CliError> {
        check_name(name)?;
        self.create_root()?;
        write_private_json(&self.state_path(name), state)
    }
}

fn check_name(name: &str) -> Result<(), CliError> {
    if valid_profile_name(name) {
        Ok(())
    } else {
        Err(CliError::usage(format!("invalid profile name {name:?}: use letters, digits, '-', '_' and '.'")))
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, CliError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CliError::usage(format!("cannot read {}: {e}", path.display()))),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| CliError::usage(format!("{} is not valid: {e}", path.display())))
}

/// Creates `dir` (and parents) and makes it private (0700).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Atomically replaces `path` with `value` as JSON, readable by the owner only.
fn write_private_json<T: Serialize>(path: &Path, value: &T) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::usage(format!("cannot write {}: {e}", path.display()));
    let dir = path.parent().ok_or_else(|| CliError::usage(format!("{} has no directory", path.display())))?;
    create_private_dir(dir).map_err(fail)?;
    let json = serde_json::to_vec_pretty(value).map_err(|e| CliError::usage(e.to_string()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("f"),
        rand::random::<u64>()
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(&json)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_are_plain_file_names() {
        for ok in ["default", "work", "ci-1", "a.b", "A_B"] {
            assert!(valid_profile_name(ok), "{ok}");
        }
        for bad in ["", "../x", "a/b", ".hidden", "a b", "é"] {
            assert!(!valid_profile_name(bad), "{bad}");
        }
    }

    #[test]
    fn profiles_are_private_and_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = ConfigDir::locate(Some(dir.path().join("cfg"))).expect("config");
        assert_eq!(config.load_profile("default").expect("load"), None);
        let profile = Profile {
            server: "http://127.0.0.1:1".into(),
            api: "http://127.0.0.1:1".into(),
            token_endpoint: "http://127.0.0.1:1/token".into(),
            client_id: "demo-client".into(),
            access_token: Some("secret-access".into()),
            refresh_token: Some("secret-refresh".into()),
            granted: vec!["myactivity.search".into()],
            ..Profile::default()
        };
        config.save_profile("default", &profile).expect("save");
        assert_eq!(config.load_profile("default").expect("load"), Some(profile.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&dir.path().join("cfg/profiles/default.json")), 0o600);
            assert_eq!(mode(&dir.path().join("cfg/profiles")), 0o700);
            assert_eq!(mode(&dir.path().join("cfg")), 0o700);
        }
        let debug = format!("{profile:?}");
        assert!(!debug.contains("secret-access") && !debug.contains("secret-refresh"), "{debug}");
        assert!(config.load_profile("../etc").is_err());
    }

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = ConfigDir::locate(Some(dir.path().to_owned())).expect("config");
        let mut state = config.load_state("default").expect("empty");
        assert!(state.groups.is_empty());
        let export_time = Timestamp::parse("2026-01-02T03:04:05Z").expect("ts");
        state
            .groups
            .insert("chrome.history".into(), GroupState { export_time, job_id: "j".into(), no_time_filter: false });
        config.save_state("default", &state).expect("save");
        assert_eq!(config.load_state("default").expect("load"), state);
    }
}

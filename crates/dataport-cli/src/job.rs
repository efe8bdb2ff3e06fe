//! A job id as the client lets it in: the server's word, checked once against a strict pattern
//! before it names anything local.
//!
//! `dataport pull` names its work files after the job (`<jobId>-<n>.zip`, `staging/<jobId>/`),
//! and a job id comes from the server — `initiate`'s answer, `ALREADY_EXISTS` metadata, a retry —
//! or from `pending.json`, which an earlier run wrote from a server's answer. Unchecked, an
//! absolute id would replace the folder it is joined to and `../` would climb out of it. A
//! [`JobId`] can only be made by [`JobId::parse`], so every path built from one is a single plain
//! name inside the folder it is joined to.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// The longest job id accepted, in bytes (a file name is at most 255, and `-<n>.zip.part` follows).
pub const MAX_JOB_ID_LEN: usize = 200;

/// A job id of the pattern `[A-Za-z0-9._~-]{1,200}`, neither starting nor ending with `.`: the
/// characters a URL path segment carries as they are (RFC 3986 "unreserved"), which is what an
/// `archiveJobs/{id}` resource name is made of — dataport's UUIDs and Google's ids alike — and a
/// plain file name on every system (no separator, no `.`/`..`, no hidden file).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    /// The id if it has the pattern; else why not (the id quoted, shortened).
    pub fn parse(id: &str) -> Result<Self, String> {
        let quoted = || {
            let short: String = id.chars().take(60).collect();
            format!("{short:?}{}", if short.len() < id.len() { "…" } else { "" })
        };
        if id.is_empty() || id.len() > MAX_JOB_ID_LEN {
            return Err(format!("{} is not 1 to {MAX_JOB_ID_LEN} characters long", quoted()));
        }
        if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b)) {
            return Err(format!("{} has characters other than letters, digits, '.', '_', '~' and '-'", quoted()));
        }
        if id.starts_with('.') || id.ends_with('.') {
            return Err(format!("{} starts or ends with '.'", quoted()));
        }
        Ok(Self(id.to_owned()))
    }

    /// [`Self::parse`] of an id the server sent, as the error a command reports: the server
    /// misbehaves, so it is a network/server failure (exit 6).
    pub fn from_server(id: &str, source: &str) -> Result<Self, CliError> {
        Self::parse(id)
            .map_err(|why| CliError::network(format!("the server sent an unusable job id in {source}: {why}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `dir/<id><suffix>`, a file or folder directly inside `dir`.
    pub fn child_of(&self, dir: &Path, suffix: &str) -> PathBuf {
        dir.join(format!("{}{suffix}", self.0))
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for JobId {
    type Error = String;

    fn try_from(id: String) -> Result<Self, String> {
        Self::parse(&id)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.0
    }
}

/// Whether `path` is a direct child of `dir`: `dir` followed by exactly one plain name. A folder
/// the client removes whole must pass this first.
pub fn is_direct_child(dir: &Path, path: &Path) -> bool {
    match path.strip_prefix(dir) {
        Ok(rest) => {
            let mut components = rest.components();
            matches!((components.next(), components.next()), (Some(Component::Normal(_)), None))
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_of_dataport_and_google_shapes_are_accepted() {
        for ok in [
            "0b6b2a4e-11ef-4a7c-9d3e-6f1e2b3c4d5e",
            "00000000-0000-4000-8000-000000000000",
            "1234567890123456789",
            "AbC_dEf-123~x.y",
            "j",
        ] {
            assert_eq!(JobId::parse(ok).map(|id| id.to_string()), Ok(ok.to_owned()), "{ok}");
        }
    }

    #[test]
    fn job_ids_that_could_name_another_path_are_refused() {
        let long = "a".repeat(MAX_JOB_ID_LEN + 1);
        for bad in [
            "",
            "/home/me/thesis",
            "../../x",
            "..",
            ".",
            ".hidden",
            "trailing.",
            "a/b",
            "a\\b",
            "C:x",
            "a b",
            "a\0b",
            "a\nb",
            "\u{1b}[31mred",
            "é",
            long.as_str(),
        ] {
            assert!(JobId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<JobId>("\"/etc\"").is_err(), "pending.json is checked too");
        assert_eq!(serde_json::from_str::<JobId>("\"abc\"").ok().map(String::from), Some("abc".to_owned()));
    }

    #[test]
    fn paths_from_a_job_id_stay_directly_inside_their_folder() {
        let dir = Path::new("/out/.dataport/staging");
        let id = JobId::parse("0b6b-11ef").expect("id");
        let child = id.child_of(dir, "");
        assert_eq!(child, Path::new("/out/.dataport/staging/0b6b-11ef"));
        assert!(is_direct_child(dir, &child));
        assert!(is_direct_child(dir, &id.child_of(dir, "-0.zip")));
        assert!(!is_direct_child(dir, dir));
        assert!(!is_direct_child(dir, Path::new("/home/me/thesis")));
        assert!(!is_direct_child(dir, Path::new("/out/.dataport/staging/a/b")));
        assert!(!is_direct_child(dir, &dir.join("..")));
    }
}

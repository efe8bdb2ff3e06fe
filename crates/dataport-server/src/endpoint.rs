//! Turns a request's raw path into a typed API endpoint before anything else looks at it.
//!
//! Custom verbs are a `:verb` suffix on the last segment (`archiveJobs/{id}:cancel`); axum cannot
//! route those, so the raw (still percent-encoded) path is parsed here: the verb is split off at
//! the last `:` (or `%3A`), then the id is percent-decoded, so a `%2F` inside an id stays part of
//! the id. Clients that fully encode reserved expansions send `archiveJobs%2F{id}`; that form is
//! accepted too.

use percent_encoding::percent_decode_str;

/// An API method with its path parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Initiate,
    State {
        id: String,
    },
    Retry {
        id: String,
    },
    Cancel {
        id: String,
    },
    Reset,
    CheckAccessType,
    /// `GET /x/v1/archiveJobs/{id}`: dataport's extension (SPEC §12), a job's progress and history.
    JobDetails {
        id: String,
    },
}

impl Endpoint {
    /// The one HTTP method the endpoint declares.
    pub fn method(&self) -> &'static str {
        match self {
            Self::State { .. } | Self::JobDetails { .. } => "GET",
            _ => "POST",
        }
    }

    /// The method's name in the discovery document, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Initiate => "portabilityArchive.initiate",
            Self::State { .. } => "archiveJobs.getPortabilityArchiveState",
            Self::Retry { .. } => "archiveJobs.retry",
            Self::Cancel { .. } => "archiveJobs.cancel",
            Self::Reset => "authorization.reset",
            Self::CheckAccessType => "accessType.check",
            Self::JobDetails { .. } => "x.archiveJobs.get",
        }
    }
}

/// Why a path is not an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathError {
    /// No such API path (404).
    NotFound,
    /// A known method with a malformed resource name (E12, 400); the message names the form.
    BadName(String),
}

/// Parses a raw request path such as `/v1/archiveJobs/abc:retry` (also under `/v1beta/`).
pub fn parse(raw_path: &str) -> Result<Endpoint, PathError> {
    if let Some(name) = raw_path.strip_prefix("/x/v1/") {
        return match name {
            name if name.starts_with("archiveJobs/") && !name.contains(':') => {
                Ok(Endpoint::JobDetails { id: job_id(name, "archiveJobs/{id}")? })
            }
            _ => Err(PathError::NotFound),
        };
    }
    let rest =
        raw_path.strip_prefix("/v1/").or_else(|| raw_path.strip_prefix("/v1beta/")).ok_or(PathError::NotFound)?;
    let (name, verb) = split_verb(rest);
    let verb = verb.map(decode).transpose()?;
    match (name, verb.as_deref()) {
        ("portabilityArchive", Some("initiate")) => Ok(Endpoint::Initiate),
        ("authorization", Some("reset")) => Ok(Endpoint::Reset),
        ("accessType", Some("check")) => Ok(Endpoint::CheckAccessType),
        (name, Some("retry")) => Ok(Endpoint::Retry { id: job_id(name, "archiveJobs/{id}")? }),
        (name, Some("cancel")) => Ok(Endpoint::Cancel { id: job_id(name, "archiveJobs/{id}")? }),
        (name, None) if is_state_path(name) => {
            let job = strip_suffix_ci(name, "/portabilityArchiveState")
                .or_else(|| strip_suffix_ci(name, "%2FportabilityArchiveState"))
                .ok_or(PathError::NotFound)?;
            Ok(Endpoint::State { id: job_id(job, "archiveJobs/{id}/portabilityArchiveState")? })
        }
        _ => Err(PathError::NotFound),
    }
}

fn is_state_path(name: &str) -> bool {
    (name.starts_with("archiveJobs/") || starts_with_ci(name, "archiveJobs%2F"))
        && (name.ends_with("/portabilityArchiveState") || strip_suffix_ci(name, "%2FportabilityArchiveState").is_some())
}

/// Splits `name:verb` at the last `:` or `%3A` of the last segment.
fn split_verb(rest: &str) -> (&str, Option<&str>) {
    let last_segment_start = rest.rfind('/').map_or(0, |i| i + 1);
    let segment = &rest[last_segment_start..];
    let colon = segment.rfind(':').map(|i| (i, 1));
    let encoded = segment.to_ascii_uppercase().rfind("%3A").map(|i| (i, 3));
    match colon.into_iter().chain(encoded).max_by_key(|(i, _)| *i) {
        Some((i, len)) => {
            let at = last_segment_start + i;
            (&rest[..at], Some(&rest[at + len..]))
        }
        None => (rest, None),
    }
}

/// Extracts the job id from `archiveJobs/{id}` (or `archiveJobs%2F{id}`), decoding it.
fn job_id(name: &str, form: &str) -> Result<String, PathError> {
    let bad = || PathError::BadName(format!("Invalid resource name {:?}: expected the form {form}.", lossy(name)));
    let raw = name.strip_prefix("archiveJobs/").or_else(|| strip_prefix_ci(name, "archiveJobs%2F")).ok_or_else(bad)?;
    if raw.is_empty() || raw.contains('/') {
        return Err(bad());
    }
    decode(raw).map_err(|_| bad())
}

fn decode(s: &str) -> Result<String, PathError> {
    let decoded = percent_decode_str(s).decode_utf8().map_err(|_| PathError::NotFound)?;
    if decoded.is_empty() || decoded.chars().any(char::is_control) {
        return Err(PathError::NotFound);
    }
    Ok(decoded.into_owned())
}

fn lossy(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().chars().take(200).collect()
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    starts_with_ci(s, prefix).then(|| &s[prefix.len()..])
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let at = s.len().checked_sub(suffix.len())?;
    (s.is_char_boundary(at) && s[at..].eq_ignore_ascii_case(suffix)).then(|| &s[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> String {
        s.to_owned()
    }

    #[test]
    fn parses_every_method_on_both_versions() {
        for v in ["/v1/", "/v1beta/"] {
            assert_eq!(parse(&format!("{v}portabilityArchive:initiate")), Ok(Endpoint::Initiate));
            assert_eq!(parse(&format!("{v}authorization:reset")), Ok(Endpoint::Reset));
            assert_eq!(parse(&format!("{v}accessType:check")), Ok(Endpoint::CheckAccessType));
            assert_eq!(parse(&format!("{v}archiveJobs/j1:retry")), Ok(Endpoint::Retry { id: id("j1") }));
            assert_eq!(parse(&format!("{v}archiveJobs/j1:cancel")), Ok(Endpoint::Cancel { id: id("j1") }));
            assert_eq!(
                parse(&format!("{v}archiveJobs/j1/portabilityArchiveState")),
                Ok(Endpoint::State { id: id("j1") })
            );
        }
    }

    #[test]
    fn encoded_colon_and_slashes_inside_ids() {
        assert_eq!(parse("/v1/archiveJobs/j1%3Acancel"), Ok(Endpoint::Cancel { id: id("j1") }));
        assert_eq!(parse("/v1/archiveJobs/j1%3aretry"), Ok(Endpoint::Retry { id: id("j1") }));
        assert_eq!(parse("/v1/portabilityArchive%3Ainitiate"), Ok(Endpoint::Initiate));
        assert_eq!(parse("/v1/archiveJobs/a%2Fb:retry"), Ok(Endpoint::Retry { id: id("a/b") }));
        assert_eq!(parse("/v1/archiveJobs/a%20b:cancel"), Ok(Endpoint::Cancel { id: id("a b") }));
        assert_eq!(parse("/v1/archiveJobs/a:b:cancel"), Ok(Endpoint::Cancel { id: id("a:b") }));
        assert_eq!(parse("/v1/archiveJobs%2Fj1:cancel"), Ok(Endpoint::Cancel { id: id("j1") }));
        assert_eq!(parse("/v1/archiveJobs%2Fj1%2FportabilityArchiveState"), Ok(Endpoint::State { id: id("j1") }));
        assert_eq!(parse("/v1/archiveJobs/a%2Fb/portabilityArchiveState"), Ok(Endpoint::State { id: id("a/b") }));
    }

    #[test]
    fn malformed_names_are_400_and_unknown_paths_404() {
        assert!(matches!(parse("/v1/job-123:retry"), Err(PathError::BadName(_))));
        assert!(matches!(parse("/v1/archiveJobs/a/b:retry"), Err(PathError::BadName(_))));
        assert!(matches!(parse("/v1/archiveJobs/:cancel"), Err(PathError::BadName(_))));
        for p in [
            "/",
            "/v1",
            "/v1/",
            "/v2/accessType:check",
            "/v1/accessType",
            "/v1/accessType:nope",
            "/v1/archiveJobs/a",
            "/v1/archiveJobs/a/other",
            "/v1/archiveJobs/a:frobnicate",
            "/v1/archiveJobs/%FF:cancel",
            "/v1/archiveJobs//portabilityArchiveState",
        ] {
            assert!(parse(p).is_err(), "{p}");
        }
        assert_eq!(parse("/v1/archiveJobs/a:frobnicate"), Err(PathError::NotFound));
    }
}

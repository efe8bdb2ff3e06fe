//! The Data Portability API as a client sees it: the six methods (SPEC §2) and dataport's
//! `/x/v1` progress extension (SPEC §12), with the bearer token of a profile — refreshed when it
//! expires or is refused, once — or one given as is (`--token`).
//!
//! Transient failures (502/503/504, timeouts, a rate limit with its `Retry-After`) are retried a
//! few times; everything else becomes a [`CliError`] at once. An answer is read up to
//! [`MAX_API_ANSWER`] bytes and no further, whatever the server sends.

use std::sync::Arc;
use std::time::Duration;

use dataport_types::status::ErrorEnvelope;
use dataport_types::{
    ArchiveJobDetails, CheckAccessTypeResponse, Empty, InitiatePortabilityArchiveResponse, PortabilityArchiveState,
    RetryPortabilityArchiveResponse, Timestamp,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::error::CliError;
use crate::oauth::{self, Client};
use crate::output::Clock;
use crate::profile::{ConfigDir, Profile};

/// Characters left as is in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Refresh an access token this long before it expires.
const EXPIRY_MARGIN_SECONDS: i64 = 60;
/// Timeout of one API call.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts of a call that keeps failing transiently.
const ATTEMPTS: u32 = 3;
/// The largest API answer read (a state answer lists one signed URL per part: a few KiB).
pub const MAX_API_ANSWER: usize = 16 * 1024 * 1024;

/// The HTTP clients every command shares: bounded connects and reads (a download may take as
/// long as it needs while bytes keep coming). Cheap to clone.
#[derive(Clone)]
pub struct Http {
    /// API calls and archive downloads. Redirects are followed (a signed URL may answer with a
    /// presigned storage URL, SPEC §9); one that leaves the origin loses `Authorization`.
    pub web: reqwest::Client,
    /// OAuth metadata and token requests: redirects are not followed, because a 307 or 308 would
    /// send the request's body — a code and its verifier, a refresh token, a client secret —
    /// wherever it points.
    pub oauth: reqwest::Client,
}

/// The clients of one run.
pub fn http_client() -> Result<Http, CliError> {
    let builder = || {
        reqwest::Client::builder()
            .user_agent(concat!("dataport-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(120))
    };
    let failed = |e: reqwest::Error| CliError::network(format!("cannot start the HTTP client: {e}"));
    Ok(Http {
        web: builder().build().map_err(failed)?,
        oauth: builder().redirect(reqwest::redirect::Policy::none()).build().map_err(failed)?,
    })
}

/// Why a response body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// The connection failed while reading.
    Transport(reqwest::Error),
    /// The body is longer than the cap (by its `Content-Length`, or as it came).
    TooLarge,
}

/// Reads a response body of at most `cap` bytes. A longer one is not read further: the response
/// is dropped, which closes its connection.
pub async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|length| length > cap as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A one-line message for a body over its cap.
pub fn too_large(what: &str, cap: usize) -> CliError {
    CliError::network(format!("{what}: the server's answer is larger than {} KiB; not read", cap / 1024))
}

/// A one-line message for a transport failure, without the URL (signed URLs carry signatures).
pub fn transport_error(e: &reqwest::Error, what: &str) -> CliError {
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    let cause = if cause.is_empty() { "the request failed".to_owned() } else { cause };
    if e.is_timeout() {
        CliError::network(format!("{what}: timed out"))
    } else if e.is_connect() {
        CliError::network(format!("cannot connect to {what}: {cause}"))
    } else {
        CliError::network(format!("{what}: {cause}"))
    }
}

/// Where the bearer token comes from.
enum Credentials {
    /// `--token`: used as is, never refreshed.
    Fixed(String),
    /// A profile's tokens, refreshed and saved back to its file.
    Profile { config: ConfigDir, name: String, profile: Box<Profile> },
}

/// A client of one API base URL with one set of credentials. Cheap to share behind an `Arc`;
/// concurrent calls that find the token expired refresh it once between them.
pub struct Api {
    http: Http,
    base: String,
    credentials: Mutex<Credentials>,
    clock: Clock,
    /// Google's API: slow polling, no dataport extensions.
    pub google: bool,
}

impl Api {
    /// A client that sends `token` as is.
    pub fn with_token(http: Http, base: &str, token: String, clock: Clock) -> Arc<Self> {
        Arc::new(Self {
            http,
            google: is_google(base),
            base: base.trim_end_matches('/').to_owned(),
            credentials: Mutex::new(Credentials::Fixed(token)),
            clock,
        })
    }

    /// A client with the tokens of profile `name`; `base` overrides the profile's API.
    pub fn with_profile(
        http: Http,
        base: Option<&str>,
        config: ConfigDir,
        name: &str,
        profile: Profile,
        clock: Clock,
    ) -> Arc<Self> {
        let base = base.unwrap_or(&profile.api).trim_end_matches('/').to_owned();
        Arc::new(Self {
            http,
            google: profile.google || is_google(&base),
            base,
            credentials: Mutex::new(Credentials::Profile { config, name: name.to_owned(), profile: Box::new(profile) }),
            clock,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The client of archive downloads.
    pub fn http(&self) -> &reqwest::Client {
        &self.http.web
    }

    /// `portabilityArchive.initiate`.
    pub async fn initiate(
        &self,
        resources: &[String],
        start_time: Option<Timestamp>,
        end_time: Option<Timestamp>,
    ) -> Result<InitiatePortabilityArchiveResponse, CliError> {
        let mut body = json!({ "resources": resources });
        if let Some(t) = start_time {
            body["startTime"] = json!(t.to_string());
        }
        if let Some(t) = end_time {
            body["endTime"] = json!(t.to_string());
        }
        self.call(Method::POST, "/v1/portabilityArchive:initiate", Some(body)).await
    }

    /// `archiveJobs.getPortabilityArchiveState`.
    pub async fn state(&self, job: &str) -> Result<PortabilityArchiveState, CliError> {
        self.call(Method::GET, &format!("/v1/archiveJobs/{}/portabilityArchiveState", segment(job)), None).await
    }

    /// `archiveJobs.retry`: the new job.
    pub async fn retry(&self, job: &str) -> Result<RetryPortabilityArchiveResponse, CliError> {
        self.call(Method::POST, &format!("/v1/archiveJobs/{}:retry", segment(job)), Some(json!({}))).await
    }

    /// `archiveJobs.cancel`.
    pub async fn cancel(&self, job: &str) -> Result<Empty, CliError> {
        self.call(Method::POST, &format!("/v1/archiveJobs/{}:cancel", segment(job)), Some(json!({}))).await
    }

    /// `authorization.reset`.
    pub async fn reset(&self) -> Result<Empty, CliError> {
        self.call(Method::POST, "/v1/authorization:reset", Some(json!({}))).await
    }

    /// `accessType.check`.
    pub async fn check(&self) -> Result<CheckAccessTypeResponse, CliError> {
        self.call(Method::POST, "/v1/accessType:check", Some(json!({}))).await
    }

    /// dataport's `GET /x/v1/archiveJobs/{id}` (progress). Google has no such thing.
    pub async fn job_details(&self, job: &str) -> Result<ArchiveJobDetails, CliError> {
        if self.google {
            return Err(CliError::usage("Google's API has no progress extension"));
        }
        self.call(Method::GET, &format!("/x/v1/archiveJobs/{}", segment(job)), None).await
    }

    /// Forgets the profile's tokens (after `authorization:reset`). No-op for `--token`.
    pub async fn forget_tokens(&self) -> Result<(), CliError> {
        let mut credentials = self.credentials.lock().await;
        if let Credentials::Profile { config, name, profile } = &mut *credentials {
            profile.forget_tokens();
            config.save_profile(name, profile)?;
        }
        Ok(())
    }

    /// One API call with retries of transient failures and one refresh on a 401.
    async fn call<T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<Value>) -> Result<T, CliError> {
        let url = format!("{}{path}", self.base);
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.access_token().await?;
            let mut request = self
                .http
                .web
                .request(method.clone(), &url)
                .bearer_auth(&token)
                .header(header::ACCEPT, "application/json")
                .timeout(CALL_TIMEOUT);
            if let Some(body) = &body {
                request = request.header(header::CONTENT_TYPE, "application/json").body(body.to_string());
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) if e.is_timeout() && attempt < ATTEMPTS => {
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(e) => return Err(transport_error(&e, &self.base)),
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let bytes = match read_capped(response, MAX_API_ANSWER).await {
                Ok(bytes) => bytes,
                Err(BodyError::TooLarge) => return Err(too_large(&self.base, MAX_API_ANSWER)),
                Err(BodyError::Transport(_)) if attempt < ATTEMPTS => {
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(BodyError::Transport(e)) => return Err(transport_error(&e, &self.base)),
            };
            if status.is_success() {
                return serde_json::from_slice(&bytes)
                    .map_err(|e| CliError::network(format!("{url}: the server sent an unreadable answer: {e}")));
            }
            let envelope = serde_json::from_slice::<ErrorEnvelope>(&bytes).ok();
            if status == StatusCode::UNAUTHORIZED && !refreshed && self.refreshable().await {
                refreshed = true;
                self.refresh_after(&token).await?;
                continue;
            }
            let rate_limited = envelope.as_ref().is_some_and(|e| {
                crate::error::error_info(&e.error).is_some_and(|(reason, _)| reason == "RATE_LIMIT_EXCEEDED")
            });
            let transient = matches!(status.as_u16(), 502..=504) || rate_limited;
            if transient && attempt < ATTEMPTS {
                let wait = retry_after.map_or(backoff(attempt), |s| Duration::from_secs(s.min(60)));
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(match envelope {
                Some(envelope) => CliError::from_status(envelope.error, &|t| self.clock.local(t)),
                None => CliError::from_http(status.as_u16(), &url),
            });
        }
    }

    /// Whether a refused token can be replaced (a profile with a refresh token).
    async fn refreshable(&self) -> bool {
        matches!(&*self.credentials.lock().await, Credentials::Profile { profile, .. } if profile.refresh_token.is_some())
    }

    /// The current access token, refreshed first if it expires within a minute.
    async fn access_token(&self) -> Result<String, CliError> {
        let mut credentials = self.credentials.lock().await;
        match &mut *credentials {
            Credentials::Fixed(token) => Ok(token.clone()),
            Credentials::Profile { config, name, profile } => {
                let now = Timestamp::now().unix_seconds();
                let fresh = profile.expires_at.is_none_or(|at| at - EXPIRY_MARGIN_SECONDS > now);
                match &profile.access_token {
                    Some(token) if fresh => Ok(token.clone()),
                    _ => self.refresh_profile(config, name, profile).await,
                }
            }
        }
    }

    /// Refreshes after `rejected` was refused, unless another call already did.
    async fn refresh_after(&self, rejected: &str) -> Result<String, CliError> {
        let mut credentials = self.credentials.lock().await;
        match &mut *credentials {
            Credentials::Fixed(token) => Ok(token.clone()),
            Credentials::Profile { config, name, profile } => match &profile.access_token {
                Some(current) if current != rejected => Ok(current.clone()),
                _ => self.refresh_profile(config, name, profile).await,
            },
        }
    }

    /// The refresh grant; the new tokens are saved to the profile before they are used. A
    /// rotated refresh token replaces the old one (dataport rotates; Google does not).
    async fn refresh_profile(&self, config: &ConfigDir, name: &str, profile: &mut Profile) -> Result<String, CliError> {
        let Some(refresh_token) = profile.refresh_token.clone() else {
            return Err(CliError::auth(format!("profile {name} is not signed in; run dataport login")));
        };
        let client = Client { id: profile.client_id.clone(), secret: profile.client_secret.clone() };
        let tokens = oauth::refresh(&self.http.oauth, &profile.token_endpoint, &client, &refresh_token).await?;
        profile.access_token = Some(tokens.access_token.clone());
        profile.expires_at = tokens.expires_in.map(|s| Timestamp::now().unix_seconds() + s);
        if let Some(rotated) = tokens.refresh_token {
            profile.refresh_token = Some(rotated);
        }
        config.save_profile(name, profile)?;
        Ok(tokens.access_token)
    }
}

/// Whether `base` is Google's API.
pub fn is_google(base: &str) -> bool {
    reqwest::Url::parse(base).ok().and_then(|u| u.host_str().map(|h| h.ends_with("googleapis.com"))).unwrap_or(false)
}

/// A job id as one path segment.
fn segment(id: &str) -> String {
    utf8_percent_encode(id, SEGMENT).to_string()
}

/// Delay before retry `attempt` (1-based) of a transiently failed call.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500 * 2u64.pow(attempt.min(6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_one_path_segment() {
        assert_eq!(segment("0b6b-11ef"), "0b6b-11ef");
        assert_eq!(segment("a/b:c d"), "a%2Fb%3Ac%20d");
    }

    #[test]
    fn google_is_recognised_by_host() {
        assert!(is_google("https://dataportability.googleapis.com"));
        assert!(!is_google("http://127.0.0.1:8080"));
        assert!(!is_google("https://googleapis.com.evil.example"));
    }
}

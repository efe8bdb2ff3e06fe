//! `/account`: the person's own page (issue #13). Signed in through the same password sign-in or
//! trusted-header sign-in as the consent pages, the person sees the apps they connected (and
//! revokes one, behind a confirmation and a CSRF token), their exports (and downloads a retained
//! archive themselves), and their audit entries, paged and as a JSON download.
//!
//! Handlers translate HTTP to the core's `account` use cases and back; every id in a path is
//! looked up scoped by the signed-in user, so another person's ids are 404.

use std::net::{IpAddr, SocketAddr};

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use dataport_core::ApiError;
use dataport_core::account::{ActivityPage, ConnectedApp, Export, GrantedGroup};
use dataport_core::model::{AuditRecord, GrantAccess, User};
use dataport_types::{State as JobState, Timestamp};

use crate::AppState;
use crate::client_addr::ClientAddr;
use crate::download::{self, OnConnection, PartRequest};
use crate::oauth::{self, Browser};
use crate::pages;
use crate::slots::Slot;

const ACCOUNT: &str = "/account";

/// Characters of an id that must be escaped in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn segment(id: &str) -> String {
    utf8_percent_encode(id, SEGMENT).to_string()
}

/// The signed-in person of a request and the CSRF token of their session.
struct Person {
    user: User,
    csrf: String,
}

/// Who is signed in, for a page. With trusted-header sign-in, the proxy's header names the person
/// on every request, and a session (for the CSRF token) is started when there is none for them;
/// otherwise the session cookie must be signed in. `Ok(None)`: nobody is (show the sign-in form).
async fn signed_in(
    app: &AppState,
    peer: IpAddr,
    address: IpAddr,
    headers: &HeaderMap,
) -> Result<(Option<Person>, Option<HeaderValue>), Response> {
    if let Err(wait) = app.auth_limiter.check(&address.to_string(), "pages") {
        return Err(oauth::too_many_pages(wait));
    }
    if let Some(header_name) = &app.core.config().trusted_header {
        let user = oauth::trusted_user(app, peer, headers, header_name).await?;
        if let Some(browser) = oauth::current_session(app, headers).await?
            && browser.session.user_id.as_deref() == Some(user.id.as_str())
        {
            return Ok((Some(Person { user, csrf: browser.csrf }), None));
        }
        let Some((browser, cookie)) = oauth::start_session(app, Some(&user.id)).await else {
            return Err(oauth::unavailable());
        };
        app.core.record_sign_in(&user.id, "trusted-header", address).await;
        return Ok((Some(Person { user, csrf: browser.csrf }), Some(cookie)));
    }
    let Some(browser) = oauth::current_session(app, headers).await? else { return Ok((None, None)) };
    session_person(app, browser).await.map(|person| (person, None))
}

/// The enabled user a session is signed in as, if any.
async fn session_person(app: &AppState, browser: Browser) -> Result<Option<Person>, Response> {
    let Some(user_id) = browser.session.user_id else { return Ok(None) };
    match app.core.user(&user_id).await {
        Ok(Some(user)) if !user.disabled => Ok(Some(Person { user, csrf: browser.csrf })),
        Ok(_) => Ok(None),
        Err(_) => Err(oauth::unavailable()),
    }
}

/// Who is signed in, for a page other than the overview: nobody sends the browser to sign in.
async fn require_person(
    app: &AppState,
    peer: IpAddr,
    address: IpAddr,
    headers: &HeaderMap,
) -> Result<(Person, Option<HeaderValue>), Response> {
    match signed_in(app, peer, address, headers).await? {
        (Some(person), cookie) => Ok((person, cookie)),
        (None, _) => Err(oauth::see_other(ACCOUNT)),
    }
}

/// The checks of every form POST: the address's rate limit, a live session and its CSRF token
/// (else 403), a session signed in as an enabled user, and with trusted-header sign-in the proxy's
/// header naming that same user.
async fn posting_person(
    app: &AppState,
    peer: IpAddr,
    address: IpAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Person, Response> {
    let (browser, _) = oauth::form_post(app, address, headers, body).await?;
    let person = session_person(app, browser).await?.ok_or_else(oauth::forbidden_csrf)?;
    if let Some(header_name) = &app.core.config().trusted_header {
        let vouched = oauth::trusted_user(app, peer, headers, header_name).await?;
        if vouched.id != person.user.id {
            return Err(oauth::forbidden_csrf());
        }
    }
    Ok(person)
}

/// An error of a core use case as a page.
fn error_page(e: &ApiError) -> Response {
    match e {
        ApiError::NotFound => pages::error(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is nothing here for your account. It may have been revoked, or it has expired.",
        ),
        ApiError::Unavailable => oauth::unavailable(),
        _ => pages::error(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Internal error encountered."),
    }
}

fn bad_request(message: &str) -> Response {
    pages::error(StatusCode::BAD_REQUEST, "This address is not valid", message)
}

// ---- views ----

/// `2026-01-02 10:00 UTC`.
fn when(at: Timestamp) -> String {
    let text = at.to_string();
    format!("{} UTC", text.get(..16).unwrap_or(&text).replace('T', " "))
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

pub struct GroupView {
    pub title: String,
    pub access: &'static str,
    pub granted: String,
    pub status: String,
    pub next_export: String,
}

pub struct AppView {
    pub name: String,
    pub hosts: String,
    pub revoke_href: String,
    pub groups: Vec<GroupView>,
}

fn group_view(group: &GrantedGroup) -> GroupView {
    let grant = &group.grant;
    let (access, status, next_export) = match grant.access {
        GrantAccess::OneTime => (
            "One time",
            grant
                .exhausted_at
                .map_or_else(|| "Not exported yet".to_owned(), |at| format!("Already exported ({})", when(at))),
            String::new(),
        ),
        GrantAccess::TimeBased => {
            let expiry = grant.expires_at.map_or_else(|| "no expiry".to_owned(), when);
            let status = if group.expired { format!("Expired {expiry}") } else { format!("Until {expiry}") };
            let next = if group.expired {
                "Never (expired)".to_owned()
            } else {
                group.next_export_at.map_or_else(|| "Now".to_owned(), when)
            };
            ("Time-based", status, next)
        }
    };
    GroupView { title: group.title.clone(), access, granted: when(grant.granted_at), status, next_export }
}

fn app_view(app: &ConnectedApp) -> AppView {
    let mut hosts: Vec<String> = app.redirect_uris.iter().map(|u| dataport_core::oauth::redirect_host(u)).collect();
    hosts.sort();
    hosts.dedup();
    AppView {
        name: app.name.clone(),
        hosts: if hosts.is_empty() { "unknown".to_owned() } else { hosts.join(", ") },
        revoke_href: format!("{ACCOUNT}/apps/{}/revoke", segment(&app.client_id)),
        groups: app.groups.iter().map(group_view).collect(),
    }
}

pub struct PartLink {
    pub href: String,
    pub label: String,
}

pub struct ExportView {
    pub job_id: String,
    pub app: String,
    pub groups: String,
    pub window: String,
    pub state: &'static str,
    pub created: String,
    pub finished: String,
    pub size: String,
    pub downloads: u64,
    pub parts: Vec<PartLink>,
    pub note: String,
}

fn export_view(app: &AppState, export: &Export) -> ExportView {
    let job = &export.job;
    let titles: Vec<String> = job.resources.iter().map(|r| app.core.catalogue().title(r)).collect();
    let window = match job.start_time {
        Some(start) => format!("{} to {}", when(start), when(job.export_time)),
        None => format!("Everything before {}", when(job.export_time)),
    };
    let state = match job.state {
        JobState::InProgress => "In progress",
        JobState::Complete => "Complete",
        JobState::Failed => "Failed",
        JobState::Cancelled => "Cancelled",
        JobState::StateUnspecified => "Unknown",
    };
    let parts = if export.downloadable {
        job.parts
            .iter()
            .map(|p| PartLink {
                href: format!("{ACCOUNT}/exports/{}/parts/{}", segment(&job.id), p.index),
                label: format!("Part {} of {} ({})", p.index + 1, job.parts.len(), size(p.size)),
            })
            .collect()
    } else {
        Vec::new()
    };
    let note = match job.state {
        JobState::Complete if !export.downloadable => "No longer available to download.".to_owned(),
        JobState::Failed => job.failure_reason.clone().unwrap_or_default(),
        _ => String::new(),
    };
    ExportView {
        job_id: job.id.clone(),
        app: export.client_name.clone(),
        groups: titles.join(", "),
        window,
        state,
        created: when(job.created_at),
        finished: job.finished_at.map(when).unwrap_or_default(),
        size: if export.size > 0 { size(export.size) } else { String::new() },
        downloads: export.downloads,
        parts,
        note,
    }
}

pub struct EntryView {
    pub when: String,
    pub what: String,
    pub event: String,
    pub app: String,
    pub groups: String,
    pub job: String,
    pub details: String,
}

fn event_label(record: &AuditRecord) -> String {
    let by_user = record.entry.detail["by"] == "user";
    match record.entry.event.as_str() {
        "consent.granted" => "You allowed access",
        "consent.denied" => "You denied access",
        "token.issued" => "The app received access",
        "token.refreshed" => "The app renewed its access",
        "token.revoked" => "An access token was revoked",
        "export.initiated" => "Export started",
        "export.retried" => "Export retried",
        "export.cancelled" => "Export cancelled",
        "archive.downloaded" if by_user => "You downloaded an archive",
        "archive.downloaded" => "Archive downloaded",
        "authorization.reset" => "The app gave up its access",
        "authorization.revoked" => "You revoked access",
        "login.succeeded" => "Signed in",
        other => other,
    }
    .to_owned()
}

fn details(detail: &serde_json::Value) -> String {
    let Some(object) = detail.as_object() else { return String::new() };
    object
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

// ---- pages ----

#[derive(Template)]
#[template(path = "account_login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    username: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "account.html")]
struct OverviewPage<'a> {
    username: &'a str,
    notice: Option<&'a str>,
    apps: Vec<AppView>,
    exports: Vec<ExportView>,
}

#[derive(Template)]
#[template(path = "account_revoke.html")]
struct RevokePage<'a> {
    username: &'a str,
    csrf: &'a str,
    app: AppView,
}

#[derive(Template)]
#[template(path = "account_activity.html")]
struct ActivityView<'a> {
    username: &'a str,
    entries: Vec<EntryView>,
    older_href: Option<String>,
    newest_href: Option<String>,
}

/// The sign-in form of the account page, in the browser's session (one is started if needed).
async fn login_form(app: &AppState, headers: &HeaderMap) -> Response {
    let (csrf, cookie) = match oauth::current_session(app, headers).await {
        Ok(Some(browser)) => (browser.csrf, None),
        Ok(None) => match oauth::start_session(app, None).await {
            Some((browser, cookie)) => (browser.csrf, Some(cookie)),
            None => return oauth::unavailable(),
        },
        Err(outage) => return outage,
    };
    oauth::with_cookie(pages::html(StatusCode::OK, &LoginPage { csrf: &csrf, username: "", error: None }), cookie)
}

/// `GET /account`: connected apps and exports, or the sign-in form.
pub async fn overview(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (person, cookie) = match signed_in(&app, peer.ip(), address, &headers).await {
        Ok((Some(person), cookie)) => (person, cookie),
        Ok((None, _)) => return login_form(&app, &headers).await,
        Err(page) => return page,
    };
    let notice = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "notice" && v == "revoked")
        .then_some("Access revoked. The app can no longer export your data, and its download links no longer work.");
    let apps = match app.core.connected_apps(&person.user.id).await {
        Ok(apps) => apps,
        Err(e) => return error_page(&e),
    };
    let exports = match app.core.exports(&person.user.id).await {
        Ok(exports) => exports,
        Err(e) => return error_page(&e),
    };
    let page = OverviewPage {
        username: &person.user.username,
        notice,
        apps: apps.iter().map(app_view).collect(),
        exports: exports.iter().map(|e| export_view(&app, e)).collect(),
    };
    oauth::with_cookie(pages::html(StatusCode::OK, &page), cookie)
}

/// `POST /account/login`: password sign-in (not offered with trusted-header sign-in).
pub async fn login(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if app.core.config().trusted_header.is_some() {
        return pages::error(StatusCode::FORBIDDEN, "Sign-in unavailable", "Sign in through your account's portal.");
    }
    let (browser, form) = match oauth::form_post(&app, address, &headers, &body).await {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    let username = oauth::field(&form, "username").unwrap_or_default().trim().to_owned();
    let password = oauth::field(&form, "password").unwrap_or_default();
    let retry = |status, error: &str| {
        pages::html(status, &LoginPage { csrf: &browser.csrf, username: &username, error: Some(error) })
    };
    let user = match app.core.sign_in(&username, password, address).await {
        Ok(user) => user,
        Err(e) => return oauth::refused_sign_in(e, address, retry),
    };
    // A fresh session on sign-in, so that a session id planted before it is worth nothing.
    let Some((_, cookie)) = oauth::start_session(&app, Some(&user.id)).await else { return oauth::unavailable() };
    oauth::with_cookie(oauth::see_other(ACCOUNT), Some(cookie))
}

/// `GET /account/apps/{client}/revoke`: the confirmation step.
pub async fn revoke_confirm(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Response {
    let (person, cookie) = match require_person(&app, peer.ip(), address, &headers).await {
        Ok(signed_in) => signed_in,
        Err(page) => return page,
    };
    let connected = match app.core.connected_app(&person.user.id, &client_id).await {
        Ok(connected) => connected,
        Err(e) => return error_page(&e),
    };
    let page = RevokePage { username: &person.user.username, csrf: &person.csrf, app: app_view(&connected) };
    oauth::with_cookie(pages::html(StatusCode::OK, &page), cookie)
}

/// `POST /account/apps/{client}/revoke`: the same as the app's `authorization:reset`, audited
/// as done by the person.
pub async fn revoke(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    let person = match posting_person(&app, peer.ip(), address, &headers, &body).await {
        Ok(person) => person,
        Err(page) => return page,
    };
    match app.core.revoke_app(&person.user.id, &client_id).await {
        Ok(()) => oauth::see_other(&format!("{ACCOUNT}?notice=revoked")),
        Err(e) => error_page(&e),
    }
}

/// `GET /account/exports/{job}/parts/{part}`: the person's own download of a retained archive,
/// streamed (or redirected to the blob store) like a signed URL, and audited as theirs.
pub async fn download(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ClientAddr(address): ClientAddr,
    method: Method,
    headers: HeaderMap,
    Path((job_id, part)): Path<(String, String)>,
    connection: OnConnection,
) -> Response {
    let (person, _) = match require_person(&app, peer.ip(), address, &headers).await {
        Ok(signed_in) => signed_in,
        Err(page) => return page,
    };
    let Ok(part) = part.parse::<u32>() else { return error_page(&ApiError::NotFound) };
    let download = match app.core.own_download(&person.user.id, &job_id, part).await {
        Ok(download) => download,
        Err(e) => return error_page(&e),
    };
    let not_after = Timestamp::now().plus_seconds(300).unix_seconds();
    let OnConnection { sender, log } = connection;
    let request = PartRequest { address, method, headers: &headers, part, not_after, by_user: true, sender, log };
    let mut response = download::serve(&app, download, request).await;
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The `before` cursor of the activity page: absent, or a positive entry id. `Err` says what is
/// wrong with it.
fn before_cursor(query: Option<&str>) -> Result<Option<i64>, &'static str> {
    let mut before = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if k == "before" {
            if before.is_some() {
                return Err("The page was given more than once.");
            }
            match v.parse::<i64>() {
                Ok(id) if id > 0 => before = Some(id),
                _ => return Err("The page cursor must be a positive whole number."),
            }
        }
    }
    Ok(before)
}

/// `GET /account/activity?before=…`: the person's audit entries, newest first, paged.
pub async fn activity(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (person, cookie) = match require_person(&app, peer.ip(), address, &headers).await {
        Ok(signed_in) => signed_in,
        Err(page) => return page,
    };
    let before = match before_cursor(query.as_deref()) {
        Ok(before) => before,
        Err(message) => return bad_request(message),
    };
    let ActivityPage { entries, older, app_names } = match app.core.activity(&person.user.id, before).await {
        Ok(page) => page,
        Err(e) => return error_page(&e),
    };
    let app_name = |id: &Option<String>| id.as_ref().and_then(|id| app_names.get(id)).cloned().unwrap_or_default();
    let entries = entries
        .iter()
        .map(|record| EntryView {
            when: when(record.entry.at),
            what: event_label(record),
            event: record.entry.event.clone(),
            app: app_name(&record.entry.client_id),
            groups: record.entry.resources.join(", "),
            job: record.entry.job_id.clone().unwrap_or_default(),
            details: details(&record.entry.detail),
        })
        .collect();
    let page = ActivityView {
        username: &person.user.username,
        entries,
        older_href: older.map(|id| format!("{ACCOUNT}/activity?before={id}")),
        newest_href: before.map(|_| format!("{ACCOUNT}/activity")),
    };
    oauth::with_cookie(pages::html(StatusCode::OK, &page), cookie)
}

/// `GET /account/activity.json`: every audit entry of the person, newest first, as a download.
///
/// The body is streamed a batch of entries at a time as the connection takes it
/// ([`ActivityStream`]), so a request holds one batch whatever the log's length; and one person
/// streams one at a time (in this process): a second download while the first runs is a 429.
pub async fn activity_json(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Response {
    let (person, _) = match require_person(&app, peer.ip(), address, &headers).await {
        Ok(signed_in) => signed_in,
        Err(page) => return page,
    };
    let Some(slot) = app.activity_downloads.take(&[(person.user.id.clone(), 1)]) else {
        let mut response = pages::error(
            StatusCode::TOO_MANY_REQUESTS,
            "Already downloading",
            "Your activity is already being downloaded. Try again when that download has finished.",
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    };
    // The first batch is read before answering, so that an outage is an error page, not a 200
    // cut short.
    let (first, next) = match app.core.activity_batch(&person.user.id, None).await {
        Ok(batch) => batch,
        Err(e) => return error_page(&e),
    };
    let Ok(user) = serde_json::to_string(&person.user.username) else { return error_page(&ApiError::Internal) };
    let mut head = format!("{{\"user\": {user}, \"entries\": [").into_bytes();
    let empty = first.is_empty();
    render_entries(&mut head, &first, true);
    let stream = ActivityStream { core: app.core.clone(), user_id: person.user.id, next, empty, _slot: slot };
    let body =
        futures_util::stream::once(std::future::ready(std::io::Result::Ok(Bytes::from(head)))).chain(stream.batches());
    pages::secure(
        (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/json; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"dataport-activity.json\""),
            ],
            Body::from_stream(body),
        )
            .into_response(),
    )
}

/// Appends `entries` to the JSON array being written, one a line; `first`: nothing precedes them.
fn render_entries(out: &mut Vec<u8>, entries: &[AuditRecord], first: bool) {
    for (i, record) in entries.iter().enumerate() {
        out.extend_from_slice(if first && i == 0 { b"\n  " } else { b",\n  " });
        if serde_json::to_writer(&mut *out, record).is_err() {
            out.extend_from_slice(b"null");
        }
    }
}

/// The rest of an activity download after its first batch: each later batch read from the store
/// when the connection asks for more, then the closing of the document. Holds the person's slot
/// until the download ends (sent, or the connection gone).
struct ActivityStream {
    core: std::sync::Arc<dataport_core::Dataport>,
    user_id: String,
    /// The cursor of the next batch; `None` once the last has been read.
    next: Option<i64>,
    /// No entry written yet (the next one is the array's first).
    empty: bool,
    _slot: Slot,
}

impl ActivityStream {
    fn batches(self) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
        futures_util::stream::unfold(Some(self), |state| async move {
            let mut this = state?;
            let Some(before) = this.next else { return Some((Ok(Bytes::from_static(b"\n]}\n")), None)) };
            match this.core.activity_batch(&this.user_id, Some(before)).await {
                Ok((batch, next)) => {
                    let mut chunk = Vec::new();
                    render_entries(&mut chunk, &batch, this.empty);
                    this.empty &= batch.is_empty();
                    this.next = next;
                    Some((Ok(Bytes::from(chunk)), Some(this)))
                }
                Err(e) => {
                    tracing::error!(error = %e, "activity download: reading the log failed; cut short");
                    Some((Err(std::io::Error::other("the audit log could not be read")), None))
                }
            }
        })
    }
}

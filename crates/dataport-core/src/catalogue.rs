//! The resource-group catalogue: which groups exist, how they are presented and where their data
//! comes from (SPEC §5, §5.1). It is data, loaded from TOML; the built-in file is Google's 73
//! groups on the emulator. An operator's file binds groups to their own sources.
//!
//! A file is checked whole at start-up: every problem is reported with the file, the key
//! (`group[2].source.query`) and what is wrong, so that a server never starts on a catalogue that
//! would fail its first export.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

/// The catalogue compiled into the binary: Google's v1 groups, bound to the emulator.
pub const BUILT_IN: &str = include_str!("../catalogue/google.toml");

/// Google's scope prefix, so that apps keep their scope strings.
pub const GOOGLE_SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/dataportability.";

/// Which access a user may grant for a group at consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GrantableAccess {
    OneTime,
    TimeBased,
}

/// How a group's data files are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A JSON document (array or an object wrapping one).
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header line.
    Csv,
    /// Media files, stored without recompression.
    Media,
}

impl Format {
    /// The file extension of a data file in this format.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Ndjson => "ndjson",
            Self::Csv => "csv",
            Self::Media => "bin",
        }
    }
}

/// Where a group's data comes from (`[group.source]`, SPEC §5.1).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SourceConfig {
    /// Deterministic synthetic data in Google's export shapes (SPEC §8.1).
    Emulator,
    /// Rows of a query on the operator's PostgreSQL or SQLite database.
    Sql(SqlSourceConfig),
    /// Pages of records from the operator's own HTTP service.
    Http(HttpSourceConfig),
    /// A per-user directory tree, copied as media.
    Files(FilesSourceConfig),
    /// A `DataSource` registered in code under `name`.
    Custom { name: String },
}

/// `kind = "sql"`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSourceConfig {
    /// `postgres://…` or `sqlite://…`.
    pub database: String,
    /// Selects one user's rows with `:subject`; dataport adds the time window and the order.
    pub query: String,
    /// The column holding a row's time: the window is applied and the rows ordered on it.
    pub time_column: Option<String>,
}

/// `kind = "http"`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSourceConfig {
    /// The first page's URL; `{subject}` is replaced by the user's subject id (URL-encoded).
    pub url: String,
    #[serde(default)]
    pub headers: HashMap<String, String>,
    /// Key of the records array in each page.
    pub records: String,
    /// Key of the cursor in a page; absent, null or empty means the last page.
    pub next: Option<String>,
    /// Query parameter that carries the cursor.
    pub cursor_param: Option<String>,
    /// Record field holding its time (RFC 3339).
    pub time_field: Option<String>,
    /// Query parameters that pass the window's start and end to the service.
    pub start_param: Option<String>,
    pub end_param: Option<String>,
    /// Seconds one request may take (default 30).
    pub timeout_seconds: Option<u64>,
    /// Attempts of one request on 429, 5xx and connection errors (default 5).
    pub attempts: Option<u32>,
    /// The largest page read, in bytes (default 16 MiB): a larger one fails the export.
    pub max_page_bytes: Option<u64>,
}

/// `kind = "files"`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesSourceConfig {
    /// The user's directory; `{subject}` is replaced by the subject id.
    pub root: String,
}

/// One resource group: the unit of consent and of export, 1:1 with an OAuth scope.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceGroup {
    /// The name used in `resources` and as the scope suffix, e.g. `myactivity.search`.
    pub name: String,
    /// Short title for the consent page.
    pub title: String,
    /// What the consent page says is moved ("Move a copy of …").
    pub description: String,
    /// Whether `startTime`/`endTime` may be given for this group.
    pub time_filter: bool,
    /// Which access types a user may grant.
    pub access_types: Vec<GrantableAccess>,
    /// The folder of the group's files in the archive, below `Portability/`.
    pub folder: String,
    /// The format of its data files (sources of media ignore it).
    #[serde(default = "default_format")]
    pub format: Format,
    /// The data file's name in the folder; default `<last name segment>.<extension>`.
    #[serde(default)]
    pub file: Option<String>,
    pub source: SourceConfig,
}

fn default_format() -> Format {
    Format::Json
}

impl ResourceGroup {
    /// The name of the group's data file in its folder.
    pub fn file_name(&self) -> String {
        self.file.clone().unwrap_or_else(|| {
            let last = self.name.rsplit('.').next().unwrap_or(&self.name);
            format!("{last}.{}", self.format.extension())
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    group: Vec<ResourceGroup>,
}

/// Why a catalogue file was rejected; the message names the file, the key and the problem.
#[derive(Debug, thiserror::Error)]
#[error("catalogue {origin}: {problem}")]
pub struct CatalogueError {
    origin: String,
    problem: String,
}

/// The set of resource groups a server offers, in catalogue order.
#[derive(Clone, Debug)]
pub struct Catalogue {
    groups: Vec<ResourceGroup>,
    index: HashMap<String, usize>,
}

/// Whether `path` is a relative path of plain segments (what folders and file names must be).
pub fn safe_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\\')
        && !path.contains('\0')
        && path.split('/').all(|p| !p.is_empty() && p != "." && p != "..")
}

/// Replaces every `${VAR}` in the string values of `value` by the environment variable; `key` is
/// where `value` sits, for the error.
fn substitute(value: &mut toml::Value, key: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
    match value {
        toml::Value::String(s) => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let end = after.find('}').ok_or_else(|| format!("{key}: unterminated ${{ in {s:?}"))?;
                let name = &after[..end];
                let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !valid {
                    return Err(format!("{key}: ${{{name}}} is not a variable name"));
                }
                out.push_str(&env(name).ok_or_else(|| format!("{key}: environment variable {name} is not set"))?);
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            *s = out;
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute(item, &format!("{key}[{i}]"), env)?;
            }
        }
        toml::Value::Table(table) => {
            for (k, v) in table.iter_mut() {
                let path = if key.is_empty() { k.clone() } else { format!("{key}.{k}") };
                substitute(v, &path, env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

impl Catalogue {
    /// The built-in catalogue (emulator mode).
    pub fn built_in() -> Self {
        #[allow(clippy::expect_used)] // the file is compiled in and covered by a unit test
        Self::parse(BUILT_IN, "built-in").expect("the built-in catalogue is valid")
    }

    /// Loads a catalogue file, with `${VAR}` taken from the process environment.
    pub fn load(path: &Path) -> Result<Self, CatalogueError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CatalogueError { origin: origin.clone(), problem: e.to_string() })?;
        Self::parse_with_env(&text, &origin, &|name| std::env::var(name).ok())
    }

    /// Parses catalogue TOML; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, CatalogueError> {
        Self::parse_with_env(text, origin, &|name| std::env::var(name).ok())
    }

    /// Parses catalogue TOML with `${VAR}` taken from `env`.
    pub fn parse_with_env(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, CatalogueError> {
        let err = |problem: String| CatalogueError { origin: origin.to_owned(), problem };
        let mut value: toml::Value = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        substitute(&mut value, "", env).map_err(err)?;
        let raw = value.clone();
        let file: CatalogueFile = value.try_into().map_err(|e: toml::de::Error| err(describe(&raw, &e)))?;
        if file.group.is_empty() {
            return Err(err("no [[group]] entries".to_owned()));
        }
        let mut index = HashMap::new();
        for (i, group) in file.group.iter().enumerate() {
            validate(group)
                .map_err(|(key, problem)| err(format!("group[{i}].{key} of {:?}: {problem}", group.name)))?;
            if index.insert(group.name.clone(), i).is_some() {
                return Err(err(format!("group[{i}].name {:?} appears twice", group.name)));
            }
        }
        Ok(Self { groups: file.group, index })
    }

    /// All groups in catalogue order.
    pub fn groups(&self) -> &[ResourceGroup] {
        &self.groups
    }

    /// The group named `name`, if any.
    pub fn get(&self, name: &str) -> Option<&ResourceGroup> {
        self.index.get(name).map(|&i| &self.groups[i])
    }

    /// Sorts group names into catalogue order (the order of archives and of `accessType:check`).
    pub fn sort(&self, names: &mut [String]) {
        names.sort_by_key(|n| self.position(n));
    }

    /// Where a group stands in catalogue order (unknown names last).
    pub fn position(&self, name: &str) -> usize {
        self.index.get(name).copied().unwrap_or(usize::MAX)
    }

    /// A group's title, or its name when the catalogue no longer has it.
    pub fn title(&self, name: &str) -> String {
        self.get(name).map_or_else(|| name.to_owned(), |g| g.title.clone())
    }
}

/// A serde error of the whole file, pointed at the group it is in where serde does not say.
fn describe(raw: &toml::Value, e: &toml::de::Error) -> String {
    let message = e.message().to_owned();
    // `try_into` loses positions; find the first group that fails on its own to name it.
    if let Some(groups) = raw.get("group").and_then(toml::Value::as_array) {
        for (i, group) in groups.iter().enumerate() {
            if let Err(e) = group.clone().try_into::<ResourceGroup>() {
                let name = group.get("name").and_then(toml::Value::as_str).unwrap_or("?");
                let source_problem = group.get("source").is_some_and(|s| s.clone().try_into::<SourceConfig>().is_err());
                let key = if source_problem { format!("group[{i}].source") } else { format!("group[{i}]") };
                return format!("{key} of {name:?}: {}", e.message());
            }
        }
    }
    message
}

/// Checks what serde cannot: returns the key and the problem.
fn validate(group: &ResourceGroup) -> Result<(), (&'static str, String)> {
    let valid_name = !group.name.is_empty()
        && group.name.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if !valid_name {
        return Err(("name", "must be dot-separated parts of a-z, 0-9 and _".to_owned()));
    }
    if group.access_types.is_empty() {
        return Err(("access_types", "is empty".to_owned()));
    }
    if !safe_relative_path(&group.folder) {
        return Err(("folder", format!("{:?} is not a safe relative path", group.folder)));
    }
    if !safe_relative_path(&group.file_name()) {
        return Err(("file", format!("{:?} is not a safe relative path", group.file_name())));
    }
    match &group.source {
        SourceConfig::Sql(sql) => {
            let scheme_ok = ["postgres://", "postgresql://", "sqlite://"].iter().any(|s| sql.database.starts_with(s));
            if !scheme_ok {
                return Err((
                    "source.database",
                    format!("{:?} is not a postgres://… or sqlite://… URL", crate::config::redact_url(&sql.database)),
                ));
            }
            if sql.database.starts_with("postgres") && url_authority(&sql.database).is_none() {
                return Err(("source.database", "does not parse as a URL".to_owned()));
            }
            if sql.query.trim().is_empty() {
                return Err(("source.query", "is empty".to_owned()));
            }
            if !sql.query.contains(":subject") {
                return Err(("source.query", "must select one user's rows with :subject".to_owned()));
            }
            if group.time_filter && sql.time_column.is_none() {
                return Err(("source.time_column", "is needed when time_filter = true".to_owned()));
            }
            if let Some(column) = &sql.time_column
                && !plain_identifier(column)
            {
                return Err(("source.time_column", format!("{column:?} is not a plain column name")));
            }
            if group.format == Format::Media {
                return Err(("format", "media comes from a files source; sql writes json, ndjson or csv".to_owned()));
            }
        }
        SourceConfig::Http(http) => {
            if !(http.url.starts_with("http://") || http.url.starts_with("https://"))
                || url_authority(&http.url).is_none()
            {
                return Err(("source.url", format!("{:?} is not an http(s) URL", http.url)));
            }
            if http.records.is_empty() {
                return Err(("source.records", "is empty".to_owned()));
            }
            if http.next.is_some() != http.cursor_param.is_some() {
                return Err(("source.next", "next and cursor_param go together".to_owned()));
            }
            if group.time_filter && http.time_field.is_none() {
                return Err(("source.time_field", "is needed when time_filter = true".to_owned()));
            }
            if group.format == Format::Media {
                return Err(("format", "media comes from a files source; http writes json, ndjson or csv".to_owned()));
            }
        }
        SourceConfig::Files(files) => {
            if !files.root.starts_with('/') {
                return Err(("source.root", format!("{:?} must be an absolute path", files.root)));
            }
            if !files.root.contains("{subject}") {
                return Err(("source.root", "must contain {subject}, so that each user has their own tree".to_owned()));
            }
            if group.time_filter {
                return Err(("time_filter", "a files source has no times to filter on".to_owned()));
            }
        }
        SourceConfig::Emulator | SourceConfig::Custom { .. } => {}
    }
    Ok(())
}

/// The `host[:port]` of `scheme://…`, if there is one.
fn url_authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || host.starts_with('[') => (h, Some(p)),
        _ => (host, None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    (!host.is_empty() && port_ok && !host.contains(' ')).then_some(authority)
}

/// A column name dataport may put in SQL: letters, digits and `_`, not starting with a digit.
fn plain_identifier(name: &str) -> bool {
    name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_has_googles_73_groups_with_googles_time_filter_rule() {
        let c = Catalogue::built_in();
        assert_eq!(c.groups().len(), 73);
        for g in c.groups() {
            let expected = g.name.starts_with("myactivity.") || g.name == "chrome.history";
            assert_eq!(g.time_filter, expected, "{}", g.name);
            assert_eq!(g.source, SourceConfig::Emulator);
            assert!(
                g.description.starts_with("Move a copy") || g.name.starts_with("nest.") || g.name.starts_with("pixel.")
            );
        }
    }

    const NOTES: &str = r#"
[[group]]
name = "notes.all"
title = "Notes"
description = "Move a copy of the notes you wrote"
time_filter = true
access_types = ["one-time", "time-based"]
folder = "Notes"
format = "json"
[group.source]
kind = "sql"
database = "${NOTES_DB}"
query = "SELECT id, title FROM notes WHERE owner = :subject"
time_column = "created_at"
"#;

    fn env(name: &str) -> Option<String> {
        (name == "NOTES_DB").then(|| "postgres://app:pw@db.internal:5432/notes".to_owned())
    }

    fn problem(text: &str) -> String {
        Catalogue::parse_with_env(text, "ops.toml", &env).expect_err("rejected").to_string()
    }

    #[test]
    fn an_operator_file_binds_groups_to_sources_with_variables_from_the_environment() {
        let c = Catalogue::parse_with_env(NOTES, "ops.toml", &env).expect("valid");
        let group = c.get("notes.all").expect("group");
        assert_eq!(group.file_name(), "all.json");
        let SourceConfig::Sql(sql) = &group.source else { panic!("{:?}", group.source) };
        assert_eq!(sql.database, "postgres://app:pw@db.internal:5432/notes");
        assert_eq!(sql.time_column.as_deref(), Some("created_at"));
    }

    /// Every misconfiguration of issue 9 item 1 names the file, the key and the problem.
    #[test]
    fn every_misconfiguration_names_the_file_the_key_and_the_problem() {
        let cases = [
            (NOTES.replace("kind = \"sql\"", "kind = \"ftp\""), "group[0].source", "unknown variant `ftp`"),
            (
                NOTES.replace("query = \"SELECT id, title FROM notes WHERE owner = :subject\"\n", ""),
                "group[0].source",
                "missing field `query`",
            ),
            (NOTES.replace("folder = \"Notes\"", "folder = \"../etc\""), "group[0].folder", "not a safe relative path"),
            (NOTES.replace("folder = \"Notes\"", "folder = \"/abs\""), "group[0].folder", "not a safe relative path"),
            (format!("{NOTES}{NOTES}"), "group[1].name", "appears twice"),
            (NOTES.replace("format = \"json\"", "format = \"xml\""), "group[0]", "unknown variant `xml`"),
            (NOTES.replace("${NOTES_DB}", "${MISSING_VAR}"), "group[0].source.database", "MISSING_VAR is not set"),
            (NOTES.replace("${NOTES_DB}", "postgres://db:notaport/x"), "group[0].source.database", "does not parse"),
            (NOTES.replace("${NOTES_DB}", "mysql://db/x"), "group[0].source.database", "not a postgres"),
            (NOTES.replace("owner = :subject", "owner = 1"), "group[0].source.query", ":subject"),
            (NOTES.replace("time_column = \"created_at\"\n", ""), "group[0].source.time_column", "time_filter"),
            (
                NOTES.replace("time_column = \"created_at\"", "time_column = \"x; DROP\""),
                "group[0].source.time_column",
                "plain column",
            ),
            (
                NOTES.replace("format = \"json\"", "format = \"json\"\nfile = \"../x.json\""),
                "group[0].file",
                "safe relative",
            ),
            (NOTES.replace("[group.source]", "[group.source]\nextra = 1"), "group[0].source", "unknown field `extra`"),
        ];
        for (text, key, says) in cases {
            let message = problem(&text);
            assert!(message.starts_with("catalogue ops.toml: "), "{message}");
            assert!(message.contains(key), "{key}: {message}");
            assert!(message.contains(says), "{says}: {message}");
        }
        assert!(
            !problem(&NOTES.replace("${NOTES_DB}", "mysql://u:secret@db/x")).contains("secret"),
            "passwords are redacted"
        );
    }
}

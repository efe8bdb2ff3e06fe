//! `serve --config FILE`: one TOML file with every `serve` option, layered under the
//! environment and the command line (file < `DATAPORT_*` < flags), and `config check`, which
//! prints the effective configuration with its secrets redacted.
//!
//! A file's keys are `serve`'s long option names (`database-url`; `database_url` is accepted
//! too), so a new option is configurable in the file the moment it exists, with the same parser
//! and the same validation as its flag. Each key the command line and the environment leave
//! unset becomes that flag, inserted before the user's own; a key set either way is left to
//! them. An unknown key is an error naming the file and the key.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{ArgAction, ArgMatches, Command};

use dataport_core::config::redact_url;

/// Options that are not configuration: the file itself, and clap's help and version.
const NOT_IN_FILE: [&str; 3] = ["config", "help", "version"];

/// Options whose values are secrets: printed as `<redacted>` (URLs: with the password hidden).
const SECRETS: [&str; 1] = ["signing-keys"];
const URLS: [&str; 2] = ["database-url", "blob-url"];

/// What [`splice`] took from a file: the keys it applied.
#[derive(Debug, Default)]
pub struct FromFile {
    pub path: Option<PathBuf>,
    pub keys: BTreeSet<String>,
}

/// The subcommands that read a configuration file: `serve` and `config check`; returns the
/// index in `args` after which their options start.
fn options_start(args: &[OsString]) -> Option<usize> {
    match (args.get(1).and_then(|a| a.to_str()), args.get(2).and_then(|a| a.to_str())) {
        (Some("serve"), _) => Some(2),
        (Some("config"), Some("check")) => Some(3),
        _ => None,
    }
}

/// The `--config FILE` of the command line, else `DATAPORT_CONFIG`.
fn config_path(options: &[OsString]) -> Option<PathBuf> {
    let mut iter = options.iter();
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else { continue };
        if text == "--" {
            break;
        }
        if text == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("DATAPORT_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Whether the command line gives `--long` (as `--long`, `--long VALUE` or `--long=VALUE`).
fn on_command_line(options: &[OsString], long: &str) -> bool {
    let flag = format!("--{long}");
    options
        .iter()
        .filter_map(|a| a.to_str())
        .take_while(|a| *a != "--")
        .any(|a| a == flag || a.strip_prefix(flag.as_str()).is_some_and(|rest| rest.starts_with('=')))
}

/// Inserts the options of the configuration file (if `serve` or `config check` names one)
/// that neither the command line nor the environment sets, as flags before the user's own.
/// `serve` is the `serve` subcommand's definition, whose long options are the file's keys.
pub fn splice(args: Vec<OsString>, serve: &Command) -> anyhow::Result<(Vec<OsString>, FromFile)> {
    let Some(start) = options_start(&args) else { return Ok((args, FromFile::default())) };
    let Some(path) = config_path(&args[start..]) else { return Ok((args, FromFile::default())) };
    let text = std::fs::read_to_string(&path).with_context(|| format!("config file {}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
    let mut inserted = Vec::new();
    let mut keys = BTreeSet::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        let arg = serve
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && !NOT_IN_FILE.contains(&long.as_str()));
        let Some(arg) = arg else {
            bail!(
                "config file {}: unknown key `{key}` (the keys are `dataportd serve`'s long options, e.g. `database-url`)",
                path.display()
            );
        };
        let in_env = arg.get_env().is_some_and(|name| std::env::var_os(name).is_some());
        if in_env || on_command_line(&args[start..], &long) {
            continue;
        }
        let wrong =
            |expected: &str| anyhow::anyhow!("config file {}: key `{key}`: expected {expected}", path.display());
        match arg.get_action() {
            ArgAction::SetTrue => match value {
                toml::Value::Boolean(true) => inserted.push(OsString::from(format!("--{long}"))),
                toml::Value::Boolean(false) => {}
                _ => return Err(wrong("true or false")),
            },
            action => {
                let values = match value {
                    toml::Value::Array(items) if matches!(action, ArgAction::Append) => items.iter().collect(),
                    toml::Value::Array(_) => return Err(wrong("one value, not a list")),
                    other => vec![other],
                };
                for item in values {
                    let text = match item {
                        toml::Value::String(s) => s.clone(),
                        toml::Value::Integer(n) => n.to_string(),
                        toml::Value::Float(x) => x.to_string(),
                        toml::Value::Boolean(b) => b.to_string(),
                        _ => return Err(wrong("a string, a number or a list of them")),
                    };
                    inserted.push(OsString::from(format!("--{long}={text}")));
                }
            }
        }
        keys.insert(long);
    }
    let mut spliced = args[..start].to_vec();
    spliced.extend(inserted);
    spliced.extend_from_slice(&args[start..]);
    Ok((spliced, FromFile { path: Some(path), keys }))
}

/// A value as TOML: numbers and booleans bare, everything else a quoted string.
fn toml_value(raw: &str) -> String {
    if raw.parse::<i64>().is_ok() || raw == "true" || raw == "false" {
        raw.to_owned()
    } else {
        toml::Value::String(raw.to_owned()).to_string()
    }
}

fn redacted(long: &str, raw: &str) -> String {
    if SECRETS.contains(&long) {
        // Key ids are not secret and tell which keys are configured.
        let kids: Vec<&str> = raw.split(',').map(|k| k.split(':').next().unwrap_or_default()).collect();
        format!("{}:<redacted>", kids.join(":<redacted>,"))
    } else if URLS.contains(&long) {
        redact_url(raw)
    } else {
        raw.to_owned()
    }
}

/// The effective configuration of `serve`'s `matches` as a TOML file that `--config` reads
/// back, every option with where its value came from; secrets redacted, unset options commented.
pub fn effective(serve: &Command, matches: &ArgMatches, from_file: &FromFile) -> String {
    let mut out = String::new();
    if let Some(path) = &from_file.path {
        out.push_str(&format!(
            "# effective configuration (file {}, then DATAPORT_* environment, then flags)\n",
            path.display()
        ));
    } else {
        out.push_str("# effective configuration (no config file: DATAPORT_* environment, then flags)\n");
    }
    for arg in serve.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if NOT_IN_FILE.contains(&long) {
            continue;
        }
        let id = arg.get_id().as_str();
        let source = match matches.value_source(id) {
            Some(clap::parser::ValueSource::CommandLine) if from_file.keys.contains(long) => "file",
            Some(clap::parser::ValueSource::CommandLine) => "flag",
            Some(clap::parser::ValueSource::EnvVariable) => "environment",
            Some(clap::parser::ValueSource::DefaultValue) => "default",
            _ => "unset",
        };
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            let on = matches.get_flag(id);
            out.push_str(&format!("{long} = {on}  # {source}\n"));
            continue;
        }
        let raws: Vec<String> = matches
            .get_raw(id)
            .map(|values| values.map(|v| redacted(long, &v.to_string_lossy())).collect())
            .unwrap_or_default();
        let line = match (raws.as_slice(), arg.get_action()) {
            ([], _) => format!("# {long} =  # unset\n"),
            (values, ArgAction::Append) => {
                let items: Vec<String> = values.iter().map(|v| toml_value(v)).collect();
                format!("{long} = [{}]  # {source}\n", items.join(", "))
            }
            ([value, ..], _) => format!("{long} = {}  # {source}\n", toml_value(value)),
        };
        out.push_str(&line);
    }
    out
}

//! Parsing of request bodies by proto3 JSON rules, with Google's error wording.
//!
//! Accepted: the lowerCamel and the original snake_case name of every field, `null` for an unset
//! field, a zero-length body for any message. Rejected: unknown fields (with the message Google's
//! front end uses), a field given under both of its names, values of the wrong JSON type.

use serde_json::{Map, Value};

use crate::InitiatePortabilityArchiveRequest;

/// Why a body could not be parsed; `field` names the offending field when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyError {
    pub field: Option<String>,
    pub message: String,
}

impl BodyError {
    fn field(field: &str, message: String) -> Self {
        Self { field: Some(field.to_owned()), message }
    }
}

/// A field of a message: its JSON (lowerCamel) name and its proto (snake_case) name.
struct Field {
    json: &'static str,
    proto: &'static str,
}

const INITIATE_FIELDS: &[Field] = &[
    Field { json: "resources", proto: "resources" },
    Field { json: "startTime", proto: "start_time" },
    Field { json: "endTime", proto: "end_time" },
];

/// Parses the body of a message that has no fields (retry, cancel, reset, check).
pub fn parse_empty(body: &[u8]) -> Result<(), BodyError> {
    parse_object(body, &[]).map(|_| ())
}

/// Parses the body of `portabilityArchive:initiate`.
pub fn parse_initiate(body: &[u8]) -> Result<InitiatePortabilityArchiveRequest, BodyError> {
    let fields = parse_object(body, INITIATE_FIELDS)?;
    let mut request = InitiatePortabilityArchiveRequest::default();
    for (name, value) in fields {
        match name {
            "resources" => request.resources = string_list(name, value)?,
            "startTime" => request.start_time = Some(string(name, value)?),
            "endTime" => request.end_time = Some(string(name, value)?),
            _ => {}
        }
    }
    Ok(request)
}

/// Splits a body into its known, non-null fields keyed by JSON name.
fn parse_object(body: &[u8], known: &[Field]) -> Result<Vec<(&'static str, Value)>, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| BodyError {
        field: None,
        message: format!("Invalid JSON payload received. {}.", describe_syntax_error(&e)),
    })?;
    let Value::Object(object) = value else {
        return Err(BodyError {
            field: None,
            message: "Invalid JSON payload received. Expected an object at the top level.".to_owned(),
        });
    };
    collect_fields(object, known)
}

fn collect_fields(object: Map<String, Value>, known: &[Field]) -> Result<Vec<(&'static str, Value)>, BodyError> {
    let mut out: Vec<(&'static str, Value)> = Vec::new();
    for (key, value) in object {
        let Some(field) = known.iter().find(|f| f.json == key || f.proto == key) else {
            return Err(BodyError::field(
                &key,
                format!("Invalid JSON payload received. Unknown name \"{key}\": Cannot find field."),
            ));
        };
        if out.iter().any(|(name, _)| *name == field.json) {
            return Err(BodyError::field(
                field.json,
                format!("Invalid JSON payload received. Duplicate field \"{}\".", field.json),
            ));
        }
        if !value.is_null() {
            out.push((field.json, value));
        }
    }
    Ok(out)
}

fn describe_syntax_error(e: &serde_json::Error) -> String {
    if e.is_eof() {
        "Unexpected end of input".to_owned()
    } else {
        format!("Syntax error at line {} column {}", e.line(), e.column())
    }
}

fn string(name: &str, value: Value) -> Result<String, BodyError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(type_error(name, &other, "a string")),
    }
}

fn string_list(name: &str, value: Value) -> Result<Vec<String>, BodyError> {
    let Value::Array(items) = value else {
        return Err(type_error(name, &value, "a list of strings"));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(s),
            other => Err(type_error(&format!("{name}[{i}]"), &other, "a string")),
        })
        .collect()
}

fn type_error(name: &str, value: &Value, expected: &str) -> BodyError {
    let got = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    BodyError::field(name, format!("Invalid value at '{name}': expected {expected}, got {got}."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_names_and_empty_bodies() {
        let r = parse_initiate(br#"{"resources":["a"],"start_time":"x","endTime":null}"#).expect("ok");
        assert_eq!(r.resources, ["a"]);
        assert_eq!(r.start_time.as_deref(), Some("x"));
        assert_eq!(r.end_time, None);
        assert!(parse_empty(b"").is_ok());
        assert!(parse_empty(b" {} ").is_ok());
    }

    #[test]
    fn rejects_unknown_duplicate_and_mistyped_fields() {
        let e = parse_empty(br#"{"name":"x"}"#).expect_err("unknown");
        assert_eq!(e.message, "Invalid JSON payload received. Unknown name \"name\": Cannot find field.");
        assert_eq!(e.field.as_deref(), Some("name"));
        assert!(parse_initiate(br#"{"startTime":"a","start_time":"b"}"#).is_err());
        assert!(parse_initiate(br#"{"resources":"a"}"#).is_err());
        assert!(parse_initiate(br#"{"resources":[1]}"#).is_err());
        assert!(parse_initiate(br#"{"resources":["a"]"#).is_err());
        assert!(parse_initiate(b"[]").is_err());
    }
}

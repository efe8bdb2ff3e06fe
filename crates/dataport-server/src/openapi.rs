//! The OpenAPI 3.1 description of the API, served at `/openapi.json`.
//!
//! It is generated once at start-up from the discovery documents the server serves (SPEC §2.3),
//! so the two never disagree: every discovery method of `v1` and `v1beta` becomes an operation
//! on its `flatPath`, the discovery's system parameters become shared query parameters, its
//! schemas become `components/schemas` (discovery types and formats mapped to JSON Schema
//! 2020-12), and its OAuth scopes become the `oauth2` security scheme's scopes. What discovery
//! cannot say is added here and nowhere else: the error envelope (SPEC §4) on the statuses each
//! method really answers, JSONP bodies (`callback`), and dataport's extension endpoint
//! `GET /x/v1/archiveJobs/{id}` (SPEC §12).

use serde_json::{Map, Value, json};

use crate::discovery::Discovery;

/// The API versions the server serves, each under `/<version>/`, with one discovery document each.
const VERSIONS: [&str; 2] = ["v1", "v1beta"];

/// JSON bodies and, with `callback`, JSONP (SPEC §3).
const JSON: &str = "application/json";
const JSONP: &str = "text/javascript";

/// Why the document could not be built (a bug in a discovery document we ship; start-up stops).
#[derive(Debug)]
pub struct OpenApiError(String);

impl std::fmt::Display for OpenApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot build the OpenAPI document: {}", self.0)
    }
}

impl std::error::Error for OpenApiError {}

/// Builds the OpenAPI document, pretty-printed. `example_group`, a resource group of the
/// catalogue, becomes the example of initiate's request body (a request the server accepts).
pub fn build(discovery: &Discovery, example_group: Option<&str>) -> Result<String, OpenApiError> {
    let docs = VERSIONS
        .iter()
        .map(|version| {
            let text =
                discovery.get(version).ok_or_else(|| OpenApiError(format!("no discovery document {version}")))?;
            let doc: Value = serde_json::from_str(text).map_err(|e| OpenApiError(e.to_string()))?;
            Ok((*version, doc))
        })
        .collect::<Result<Vec<_>, OpenApiError>>()?;
    let mut document = from_discovery(&docs)?;
    if let Some(group) = example_group {
        add_initiate_example(&mut document, group);
    }
    serde_json::to_string_pretty(&document).map_err(|e| OpenApiError(e.to_string()))
}

/// Converts discovery documents (`(version, document)`, the first one describing the service)
/// into one OpenAPI document.
fn from_discovery(docs: &[(&str, Value)]) -> Result<Value, OpenApiError> {
    let (_, first) = docs.first().ok_or_else(|| OpenApiError("no discovery document".into()))?;
    let root = first["rootUrl"].as_str().unwrap_or("/").trim_end_matches('/');
    let service_path = first["servicePath"].as_str().unwrap_or_default();
    let origin = root.to_owned();

    let mut schemas = Map::new();
    let mut parameters = Map::new();
    let mut paths = Map::new();
    let mut tags = Vec::new();
    for (version, doc) in docs {
        for (name, d) in doc["schemas"].as_object().into_iter().flatten() {
            add_component(&mut schemas, name, schema(d))?;
        }
        for (name, d) in doc["parameters"].as_object().into_iter().flatten() {
            add_component(&mut parameters, &parameter_key(name), parameter(name, d))?;
        }
        let param_refs: Vec<Value> = doc["parameters"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, _)| json!({ "$ref": format!("#/components/parameters/{}", parameter_key(name)) }))
            .collect();
        let mut methods = Vec::new();
        collect_methods(&doc["resources"], "", &mut methods);
        for (resource, method) in &methods {
            let tag = resource.clone();
            if !tags.contains(&tag) {
                tags.push(tag.clone());
            }
            let (path, http_method, operation) = operation(doc, version, &tag, method, &param_refs, &schemas)?;
            let item = paths.entry(format!("/{service_path}{path}")).or_insert_with(|| json!({}));
            item[http_method.to_ascii_lowercase()] = operation;
        }
    }
    add_extensions(&mut paths, &mut schemas, &mut tags)?;
    for (version, _) in docs {
        link_created_jobs(&mut paths, version);
    }
    for (name, s) in error_schemas() {
        add_component(&mut schemas, &name, s)?;
    }
    let scopes: Map<String, Value> = first["auth"]["oauth2"]["scopes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(scope, d)| (scope.clone(), d["description"].clone()))
        .collect();

    Ok(json!({
        "openapi": "3.1.0",
        "info": {
            "title": first["title"],
            "description": format!(
                "{} Served by dataport; generated from the discovery documents at /$discovery/rest?version=v1 \
                 (and v1beta), revision {}.",
                first["description"].as_str().unwrap_or_default(),
                first["revision"].as_str().unwrap_or_default(),
            ),
            "version": first["revision"],
        },
        "externalDocs": { "url": first["documentationLink"] },
        "servers": [{ "url": origin }],
        "tags": tags.iter().map(|t| json!({ "name": t })).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": parameters,
            "responses": error_responses(),
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "description": "dataport's own authorization server (SPEC §10). Any one data-portability scope \
                                    authorizes every method; initiate also needs the scopes of the requested resources.",
                    "flows": { "authorizationCode": {
                        "authorizationUrl": format!("{origin}/o/oauth2/v2/auth"),
                        "tokenUrl": format!("{origin}/token"),
                        "refreshUrl": format!("{origin}/token"),
                        "scopes": scopes,
                    }},
                },
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An access token issued by this server's token endpoint (also accepted as the \
                                    access_token or oauth_token query parameter).",
                },
            },
        },
        // Alternatives: a token with any one of the scopes (Google's rule for these methods).
        "security": scopes.keys().map(|s| json!({ "oauth2": [s] })).chain([json!({ "bearer": [] })]).collect::<Vec<_>>(),
    }))
}

/// Inserts a component, refusing a second, different definition under the same name (the
/// versions share their schemas and parameters; if Google's documents ever diverge, start-up
/// says so rather than describing one version wrongly).
fn add_component(components: &mut Map<String, Value>, name: &str, value: Value) -> Result<(), OpenApiError> {
    match components.get(name) {
        Some(existing) if *existing != value => Err(OpenApiError(format!("two different definitions of {name}"))),
        Some(_) => Ok(()),
        None => {
            components.insert(name.to_owned(), value);
            Ok(())
        }
    }
}

/// Every method under `resources`, nested resources included, with its dotted resource path.
fn collect_methods<'a>(resources: &'a Value, prefix: &str, out: &mut Vec<(String, &'a Value)>) {
    for (name, resource) in resources.as_object().into_iter().flatten() {
        let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        for method in resource["methods"].as_object().into_iter().flatten().map(|(_, m)| m) {
            out.push((path.clone(), method));
        }
        collect_methods(&resource["resources"], &path, out);
    }
}

/// One discovery method as `(path, HTTP method, operation object)`. The path is the method's
/// `flatPath` (`v1/archiveJobs/{archiveJobsId}:cancel`), whose parameters carry the bare job id,
/// rather than `v1/{+name}:cancel`, whose reserved expansion OpenAPI cannot express.
fn operation(
    doc: &Value,
    version: &str,
    tag: &str,
    method: &Value,
    system_params: &[Value],
    schemas: &Map<String, Value>,
) -> Result<(String, String, Value), OpenApiError> {
    let id = method["id"].as_str().unwrap_or_default();
    let flat = method["flatPath"].as_str().or_else(|| method["path"].as_str()).unwrap_or_default();
    let http_method = method["httpMethod"].as_str().unwrap_or("GET").to_owned();
    // The one path parameter (`name`) describes the whole resource name; each flatPath
    // variable is one segment of it.
    let name_param = method["parameters"]
        .as_object()
        .into_iter()
        .flatten()
        .find(|(_, p)| p["location"] == "path")
        .map(|(_, p)| p.clone());
    let mut params: Vec<Value> = path_variables(flat)
        .into_iter()
        .map(|var| {
            let description = name_param.as_ref().and_then(|p| p["description"].as_str()).unwrap_or_default();
            json!({
                "name": var,
                "in": "path",
                "required": true,
                "description": format!("One segment of the resource name: the job id, percent-encoded. {description}"),
                "schema": { "type": "string" },
            })
        })
        .collect();
    for (name, p) in method["parameters"].as_object().into_iter().flatten() {
        if p["location"] == "query" {
            params.push(parameter(name, p));
        }
    }
    params.extend(system_params.iter().cloned());

    let has_path_params = flat.contains('{');
    let mut operation = json!({
        "operationId": operation_id(doc, version, id),
        "tags": [tag],
        "description": method["description"],
        "parameters": params,
        "responses": responses(method["response"]["$ref"].as_str(), id, has_path_params, schemas)?,
    });
    if let Some(request) = method["request"]["$ref"].as_str() {
        operation["requestBody"] = json!({
            "description": "proto3 JSON: lowerCamel or snake_case names; an empty body or none stands for {} \
                            (SPEC §2.2). An unknown field is 400 INVALID_ARGUMENT.",
            "content": { JSON: { "schema": schema_ref(request) } },
        });
    }
    Ok((flat.to_owned(), http_method, operation))
}

/// Google's method ids are the same in both versions; OpenAPI needs unique ones, so those of a
/// version other than the first get it inserted after the API name
/// (`dataportability.v1beta.archiveJobs.cancel`).
fn operation_id(doc: &Value, version: &str, id: &str) -> String {
    let api = doc["name"].as_str().unwrap_or_default();
    if version == VERSIONS[0] {
        return id.to_owned();
    }
    match id.strip_prefix(api).and_then(|rest| rest.strip_prefix('.')) {
        Some(rest) => format!("{api}.{version}.{rest}"),
        None => format!("{version}.{id}"),
    }
}

/// The `{variables}` of a flat path, in order.
fn path_variables(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}'))
        .map(|(var, _)| var.trim_start_matches('+').to_owned())
        .collect()
}

/// A discovery parameter's component key: OpenAPI component names allow only `[A-Za-z0-9._-]`
/// (`$.xgafv` becomes `xgafv`).
fn parameter_key(name: &str) -> String {
    let key: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')).collect();
    key.trim_start_matches('.').to_owned()
}

/// A discovery query parameter as an OpenAPI parameter object.
fn parameter(name: &str, d: &Value) -> Value {
    let mut s = schema(d);
    if let Some(obj) = s.as_object_mut() {
        obj.remove("description");
    }
    let mut p = json!({ "name": name, "in": "query", "schema": s });
    if let Some(description) = d["description"].as_str() {
        p["description"] = json!(description);
    }
    if d["required"] == true {
        p["required"] = json!(true);
    }
    if d["deprecated"] == true {
        p["deprecated"] = json!(true);
    }
    p
}

/// A `$ref` to a component schema.
fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A discovery JSON schema as a JSON Schema 2020-12 schema. Discovery's conventions: `$ref` names
/// a schema of the same document; `format: google-datetime` is an RFC 3339 string; 64-bit
/// integers travel as strings (proto3 JSON); `repeated` parameters are arrays; `enum` comes with
/// `enumDescriptions` (kept as `x-enumDescriptions`); defaults are strings.
fn schema(d: &Value) -> Value {
    if let Some(name) = d["$ref"].as_str() {
        return schema_ref(name);
    }
    let mut out = Map::new();
    let (ty, format) = (d["type"].as_str().unwrap_or_default(), d["format"].as_str());
    match (ty, format) {
        ("string", Some("google-datetime" | "date-time")) => {
            out.insert("type".into(), json!("string"));
            out.insert("format".into(), json!("date-time"));
        }
        ("string", Some("date")) => {
            out.insert("type".into(), json!("string"));
            out.insert("format".into(), json!("date"));
        }
        ("string", Some("byte")) => {
            out.insert("type".into(), json!("string"));
            out.insert("contentEncoding".into(), json!("base64"));
        }
        ("string", Some(f @ ("int64" | "uint64"))) => {
            out.insert("type".into(), json!("string"));
            out.insert("format".into(), json!(f));
            out.insert("pattern".into(), json!(if f == "int64" { "^-?[0-9]+$" } else { "^[0-9]+$" }));
        }
        ("string", Some(f @ ("google-duration" | "google-fieldmask"))) => {
            out.insert("type".into(), json!("string"));
            out.insert("format".into(), json!(f));
        }
        ("integer", f) => {
            out.insert("type".into(), json!("integer"));
            if let Some(f) = f {
                out.insert("format".into(), json!(f));
            }
        }
        ("number", f) => {
            out.insert("type".into(), json!("number"));
            if let Some(f) = f {
                out.insert("format".into(), json!(f));
            }
        }
        ("any", _) | ("", _) => {}
        (ty, _) => {
            out.insert("type".into(), json!(ty));
        }
    }
    if let Some(description) = d["description"].as_str() {
        out.insert("description".into(), json!(description));
    }
    if let Some(values) = d["enum"].as_array() {
        out.insert("enum".into(), json!(values));
        if let Some(descriptions) = d["enumDescriptions"].as_array() {
            out.insert("x-enumDescriptions".into(), json!(descriptions));
        }
    }
    if let Some(default) = d["default"].as_str() {
        out.insert("default".into(), typed_literal(ty, default));
    }
    if let Some(pattern) = d["pattern"].as_str() {
        out.insert("pattern".into(), json!(pattern));
    }
    for bound in ["minimum", "maximum"] {
        if let Some(value) = d[bound].as_str() {
            out.insert(bound.into(), typed_literal("number", value));
        }
    }
    for flag in ["readOnly", "deprecated"] {
        if d[flag] == true {
            out.insert(flag.into(), json!(true));
        }
    }
    if let Some(items) = d.get("items") {
        out.insert("items".into(), schema(items));
    }
    if let Some(properties) = d["properties"].as_object() {
        let converted: Map<String, Value> = properties.iter().map(|(k, v)| (k.clone(), schema(v))).collect();
        out.insert("properties".into(), Value::Object(converted));
    }
    if let Some(additional) = d.get("additionalProperties") {
        out.insert("additionalProperties".into(), schema(additional));
    }
    let converted = Value::Object(out);
    if d["repeated"] == true { json!({ "type": "array", "items": converted }) } else { converted }
}

/// A discovery literal (always a string) as the JSON value of its type.
fn typed_literal(ty: &str, s: &str) -> Value {
    match ty {
        "boolean" => s.parse::<bool>().map_or_else(|_| json!(s), Value::Bool),
        "integer" | "number" => serde_json::from_str::<serde_json::Number>(s).map_or_else(|_| json!(s), Value::Number),
        _ => json!(s),
    }
}

/// A method's responses: its discovery response on 200 (JSON, or JSONP with `callback`), and the
/// error envelope on every status the server answers for it (SPEC §4.1):
/// 400 (system parameters, E9, E10, E12, E13–E15, bodies), 401 (E1–E3), 403 (E4, E5),
/// 404 (E11, only where a job id is in the path), 409 (E8, initiate), 429 (E16 everywhere; E6,
/// E7 on initiate), 500 (E18) and 503 (E17).
fn responses(
    response: Option<&str>,
    method_id: &str,
    has_job_id: bool,
    schemas: &Map<String, Value>,
) -> Result<Value, OpenApiError> {
    let ok_schema = match response {
        Some(name) if schemas.contains_key(name) => schema_ref(name),
        Some(name) => return Err(OpenApiError(format!("{method_id} answers the unknown schema {name}"))),
        None => json!({ "type": "object" }),
    };
    let mut out = Map::new();
    out.insert(
        "200".into(),
        json!({
            "description": "Success. With `fields` only the selected fields; with `callback` the JSON wrapped as JSONP.",
            "content": content(ok_schema),
        }),
    );
    let mut statuses = vec!["400", "401", "403"];
    if has_job_id {
        statuses.push("404");
    }
    if method_id.ends_with(".portabilityArchive.initiate") {
        statuses.push("409");
    }
    statuses.extend(["429", "500", "503"]);
    for status in statuses {
        out.insert(status.into(), json!({ "$ref": format!("#/components/responses/{}", response_name(status)) }));
    }
    Ok(Value::Object(out))
}

/// `application/json` with `schema`, and `text/javascript` for JSONP (`callback`).
fn content(schema: Value) -> Value {
    json!({
        JSON: { "schema": schema },
        JSONP: { "schema": { "type": "string", "description": "/**/<callback>(<the JSON body>)" } },
    })
}

fn response_name(status: &str) -> &'static str {
    match status {
        "400" => "BadRequest",
        "401" => "Unauthenticated",
        "403" => "PermissionDenied",
        "404" => "NotFound",
        "409" => "AlreadyExists",
        "429" => "ResourceExhausted",
        "500" => "Internal",
        _ => "Unavailable",
    }
}

/// The shared error responses, each the error envelope.
fn error_responses() -> Value {
    let envelope = || content(schema_ref("ErrorEnvelope"));
    json!({
        "BadRequest": {
            "description": "INVALID_ARGUMENT (a bad system parameter, resource name or body: E9, E10, E12) or \
                            FAILED_PRECONDITION (E13, E14, E15).",
            "content": envelope(),
        },
        "Unauthenticated": {
            "description": "UNAUTHENTICATED: no token (E1), an unknown or revoked one (E2), an expired one (E3).",
            "headers": { "WWW-Authenticate": {
                "required": true,
                "schema": { "type": "string" },
                "description": "Bearer realm=\"dataport\", error=\"invalid_token\"",
            }},
            "content": envelope(),
        },
        "PermissionDenied": {
            "description": "PERMISSION_DENIED: the token has no data-portability scope (E4) or does not grant the \
                            requested resources (E5).",
            "headers": { "WWW-Authenticate": {
                "schema": { "type": "string" },
                "description": "On E4: Bearer realm=\"dataport\", error=\"insufficient_scope\"",
            }},
            "content": envelope(),
        },
        "NotFound": {
            "description": "NOT_FOUND: no such job for this user and client (E11).",
            "content": envelope(),
        },
        "AlreadyExists": {
            "description": "ALREADY_EXISTS: an identical job is in progress (E8).",
            "content": envelope(),
        },
        "ResourceExhausted": {
            "description": "RESOURCE_EXHAUSTED: one-time resources already exported (E6), time-based resources in \
                            their cooldown (E7), or the request rate limit (E16).",
            "headers": { "Retry-After": {
                "schema": { "type": "integer", "minimum": 0 },
                "description": "Seconds to wait, on the rate limit (E16).",
            }},
            "content": envelope(),
        },
        "Internal": { "description": "INTERNAL (E18).", "content": envelope() },
        "Unavailable": {
            "description": "UNAVAILABLE: the database or blob store is unavailable (E17).",
            "content": envelope(),
        },
    })
}

/// The `google.rpc.Code` names the server uses in `error.status`.
const STATUS_NAMES: [&str; 14] = [
    "CANCELLED",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "UNAUTHENTICATED",
];

/// The error envelope (SPEC §4) and its detail types, exactly as `dataport_types::Status`
/// renders them.
fn error_schemas() -> Vec<(String, Value)> {
    let detail_type = |name: &str| json!({ "const": format!("type.googleapis.com/google.rpc.{name}") });
    vec![
        (
            "ErrorEnvelope".into(),
            json!({
                "description": "Every error response: {\"error\": google.rpc.Status}.",
                "type": "object",
                "required": ["error"],
                "additionalProperties": false,
                "properties": { "error": schema_ref("Status") },
            }),
        ),
        (
            "Status".into(),
            json!({
                "description": "google.rpc.Status in Google's JSON error format.",
                "type": "object",
                "required": ["code", "message", "status"],
                "additionalProperties": false,
                "properties": {
                    "code": { "type": "integer", "description": "The HTTP status code." },
                    "message": { "type": "string" },
                    "status": { "type": "string", "enum": STATUS_NAMES },
                    "details": {
                        "type": "array",
                        "description": "An ErrorInfo, when present, comes first.",
                        "items": { "oneOf": [schema_ref("ErrorInfo"), schema_ref("BadRequest"), schema_ref("RetryInfo")] },
                    },
                },
            }),
        ),
        (
            "ErrorInfo".into(),
            json!({
                "type": "object",
                "required": ["@type", "reason", "domain"],
                "additionalProperties": false,
                "properties": {
                    "@type": detail_type("ErrorInfo"),
                    "reason": { "type": "string", "description": "E.g. RESOURCE_EXHAUSTED_TIME_BASED (SPEC §4.1)." },
                    "domain": { "type": "string" },
                    "metadata": {
                        "type": "object",
                        "additionalProperties": { "type": "string" },
                        "description": "String values; lists are comma-joined.",
                    },
                },
            }),
        ),
        (
            "BadRequest".into(),
            json!({
                "type": "object",
                "required": ["@type", "fieldViolations"],
                "additionalProperties": false,
                "properties": {
                    "@type": detail_type("BadRequest"),
                    "fieldViolations": { "type": "array", "items": schema_ref("FieldViolation") },
                },
            }),
        ),
        (
            "FieldViolation".into(),
            json!({
                "type": "object",
                "required": ["field", "description"],
                "additionalProperties": false,
                "properties": { "field": { "type": "string" }, "description": { "type": "string" } },
            }),
        ),
        (
            "RetryInfo".into(),
            json!({
                "type": "object",
                "required": ["@type", "retryDelay"],
                "additionalProperties": false,
                "properties": {
                    "@type": detail_type("RetryInfo"),
                    "retryDelay": { "type": "string", "pattern": "^[0-9]+s$", "description": "A proto3 Duration." },
                },
            }),
        ),
    ]
}

/// Puts `{"resources": [group]}` as the example body of every initiate operation.
fn add_initiate_example(document: &mut Value, group: &str) {
    for item in document["paths"].as_object_mut().into_iter().flatten().map(|(_, item)| item) {
        for op in item.as_object_mut().into_iter().flatten().map(|(_, op)| op) {
            let is_initiate = op["operationId"].as_str().is_some_and(|id| id.ends_with(".portabilityArchive.initiate"));
            if is_initiate && op["requestBody"]["content"][JSON].is_object() {
                op["requestBody"]["content"][JSON]["example"] = json!({ "resources": [group] });
            }
        }
    }
}

/// OpenAPI links from the responses that name a new job (`archiveJobId`) to the methods that
/// take its id, so that a client generator or a fuzzer can follow a job through its life.
fn link_created_jobs(paths: &mut Map<String, Value>, version: &str) {
    let mut takes_job: Vec<String> = Vec::new();
    for item in paths.values() {
        for op in item.as_object().into_iter().flatten().map(|(_, op)| op) {
            let id = op["operationId"].as_str().unwrap_or_default();
            let in_version = op_version(id) == version;
            let has_job_param = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "archiveJobsId" && p["in"] == "path");
            if in_version && has_job_param {
                takes_job.push(id.to_owned());
            }
        }
    }
    for item in paths.values_mut() {
        for op in item.as_object_mut().into_iter().flatten().map(|(_, op)| op) {
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            let names_job = matches!(
                op["responses"]["200"]["content"][JSON]["schema"]["$ref"].as_str(),
                Some(r) if r.ends_with("/InitiatePortabilityArchiveResponse") || r.ends_with("/RetryPortabilityArchiveResponse")
            );
            if op_version(&id) != version || !names_job {
                continue;
            }
            let links: Map<String, Value> = takes_job
                .iter()
                .map(|target| {
                    let short = target.rsplit('.').next().unwrap_or(target);
                    (
                        short.to_owned(),
                        json!({ "operationId": target, "parameters": { "archiveJobsId": "$response.body#/archiveJobId" } }),
                    )
                })
                .collect();
            op["responses"]["200"]["links"] = Value::Object(links);
        }
    }
}

/// The version an operation id belongs to (see [`operation_id`]).
fn op_version(id: &str) -> &str {
    VERSIONS.iter().skip(1).find(|v| id.split('.').any(|part| part == **v)).copied().unwrap_or(VERSIONS[0])
}

/// dataport's extension (SPEC §12): `GET /x/v1/archiveJobs/{id}`, the job's details
/// (`dataport_types::ArchiveJobDetails`). Not in any discovery document, so described here.
fn add_extensions(
    paths: &mut Map<String, Value>,
    schemas: &mut Map<String, Value>,
    tags: &mut Vec<String>,
) -> Result<(), OpenApiError> {
    let system_params: Vec<Value> = paths
        .values()
        .flat_map(|item| item.as_object().into_iter().flatten().map(|(_, op)| op))
        .next()
        .map(|op| {
            op["parameters"].as_array().into_iter().flatten().filter(|p| p.get("$ref").is_some()).cloned().collect()
        })
        .unwrap_or_default();
    let timestamp = |description: &str| json!({ "type": "string", "format": "date-time", "description": description });
    let count = |description: &str| json!({ "type": "integer", "minimum": 0, "description": description });
    add_component(
        schemas,
        "ArchiveJobDetails",
        json!({
            "description": "dataport extension: a job with its progress, failure reason and retry lineage.",
            "type": "object",
            "required": ["name", "state", "resources", "accessType", "exportTime", "createTime", "attempt", "retryIndex", "progress"],
            "properties": {
                "name": { "type": "string", "description": "archiveJobs/{id}" },
                "state": { "type": "string", "enum": ["STATE_UNSPECIFIED", "IN_PROGRESS", "COMPLETE", "FAILED", "CANCELLED"] },
                "resources": { "type": "array", "items": { "type": "string" } },
                "accessType": { "type": "string", "enum": ["ACCESS_TYPE_UNSPECIFIED", "ACCESS_TYPE_ONE_TIME", "ACCESS_TYPE_TIME_BASED"] },
                "startTime": timestamp("Set only if the initiate request set it."),
                "exportTime": timestamp("endTime if given, else the initiate time."),
                "createTime": timestamp("When the job was initiated."),
                "finishTime": timestamp("When the job reached COMPLETE, FAILED or CANCELLED."),
                "attempt": count("How many times a worker has taken the job up."),
                "failureReason": { "type": "string", "description": "Why the last attempt failed." },
                "retryOf": { "type": "string", "description": "The failed job this one retries." },
                "retryIndex": count("0 for an initiated job, n for its n-th retry."),
                "progress": schema_ref("JobProgress"),
            },
        }),
    )?;
    add_component(
        schemas,
        "JobProgress",
        json!({
            "description": "How far the job's current (or last) attempt got.",
            "type": "object",
            "required": ["groupsTotal", "groupsDone", "records", "bytes", "partsWritten"],
            "properties": {
                "groupsTotal": count("Resource groups in the job."),
                "groupsDone": count("Resource groups written."),
                "records": count("Records written (media files not counted)."),
                "bytes": count("Uncompressed bytes written."),
                "partsWritten": count("Archive parts finished (the index part included once complete)."),
            },
        }),
    )?;
    let tag = "x.archiveJobs".to_owned();
    tags.push(tag.clone());
    let mut params = vec![json!({
        "name": "archiveJobsId",
        "in": "path",
        "required": true,
        "description": "The job id, percent-encoded.",
        "schema": { "type": "string" },
    })];
    params.extend(system_params);
    let schemas_now = schemas.clone();
    paths.insert(
        "/x/v1/archiveJobs/{archiveJobsId}".into(),
        json!({ "get": {
            "operationId": "dataport.x.archiveJobs.get",
            "tags": [tag],
            "description": "dataport extension (not part of Google's API): a job's progress, failure reason, retry \
                            lineage and timestamps. Same authorization as getPortabilityArchiveState.",
            "parameters": params,
            "responses": responses(Some("ArchiveJobDetails"), "dataport.x.archiveJobs.get", true, &schemas_now)?,
        }}),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        let catalogue = dataport_core::catalogue::Catalogue::built_in();
        let discovery =
            Discovery::new("http://127.0.0.1:9", &catalogue, "https://www.googleapis.com/auth/dataportability.")
                .expect("discovery");
        serde_json::from_str(&build(&discovery, Some("myactivity.search")).expect("openapi")).expect("json")
    }

    #[test]
    fn refs_datetimes_and_enums_are_json_schema() {
        assert_eq!(
            schema(&json!({ "$ref": "PortabilityArchiveState" })),
            json!({ "$ref": "#/components/schemas/PortabilityArchiveState" })
        );
        assert_eq!(
            schema(&json!({ "type": "string", "format": "google-datetime", "description": "d" })),
            json!({ "type": "string", "format": "date-time", "description": "d" })
        );
        assert_eq!(
            schema(&json!({ "type": "string", "enum": ["A", "B"], "enumDescriptions": ["a", "b"] })),
            json!({ "type": "string", "enum": ["A", "B"], "x-enumDescriptions": ["a", "b"] })
        );
        assert_eq!(schema(&json!({ "type": "string", "format": "int64" }))["type"], "string");
        assert_eq!(schema(&json!({ "type": "boolean", "default": "true" }))["default"], true);
        assert_eq!(
            schema(&json!({ "type": "object", "additionalProperties": { "type": "array", "items": { "$ref": "X" } } })),
            json!({ "type": "object", "additionalProperties": { "type": "array", "items": { "$ref": "#/components/schemas/X" } } })
        );

        let doc = document();
        let state = &doc["components"]["schemas"]["PortabilityArchiveState"]["properties"];
        assert_eq!(state["exportTime"]["format"], "date-time");
        assert_eq!(
            state["state"]["enum"],
            json!(["STATE_UNSPECIFIED", "IN_PROGRESS", "COMPLETE", "FAILED", "CANCELLED"])
        );
        let op = &doc["paths"]["/v1/archiveJobs/{archiveJobsId}/portabilityArchiveState"]["get"];
        assert_eq!(op["operationId"], "dataportability.archiveJobs.getPortabilityArchiveState");
        assert_eq!(
            op["responses"]["200"]["content"][JSON]["schema"]["$ref"],
            "#/components/schemas/PortabilityArchiveState"
        );
        assert_eq!(doc["components"]["parameters"]["xgafv"]["name"], "$.xgafv");
        assert_eq!(
            doc["components"]["parameters"]["prettyPrint"]["schema"],
            json!({ "type": "boolean", "default": true })
        );
    }

    #[test]
    fn every_discovery_method_of_both_versions_is_an_operation() {
        let doc = document();
        let mut ids: Vec<String> = doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .flat_map(|item| {
                item.as_object().expect("item").values().map(|op| op["operationId"].as_str().expect("id").to_owned())
            })
            .collect();
        ids.sort();
        let methods = [
            "accessType.check",
            "archiveJobs.cancel",
            "archiveJobs.getPortabilityArchiveState",
            "archiveJobs.retry",
            "authorization.reset",
            "portabilityArchive.initiate",
        ];
        let mut expected: Vec<String> = methods
            .iter()
            .flat_map(|m| [format!("dataportability.{m}"), format!("dataportability.v1beta.{m}")])
            .chain(["dataport.x.archiveJobs.get".to_owned()])
            .collect();
        expected.sort();
        assert_eq!(ids, expected);
        assert!(doc["paths"]["/v1beta/archiveJobs/{archiveJobsId}:cancel"]["post"].is_object());
        let initiate = &doc["paths"]["/v1/portabilityArchive:initiate"]["post"];
        assert_eq!(
            initiate["requestBody"]["content"][JSON]["schema"]["$ref"],
            "#/components/schemas/InitiatePortabilityArchiveRequest"
        );
        assert_eq!(initiate["requestBody"]["content"][JSON]["example"], json!({ "resources": ["myactivity.search"] }));
        assert_eq!(
            initiate["responses"]["200"]["links"]["getPortabilityArchiveState"]["operationId"],
            "dataportability.archiveJobs.getPortabilityArchiveState"
        );
        assert_eq!(doc["servers"][0]["url"], "http://127.0.0.1:9");
        let flows = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"];
        assert_eq!(flows["tokenUrl"], "http://127.0.0.1:9/token");
        assert_eq!(flows["scopes"].as_object().expect("scopes").len(), 73);
    }

    #[test]
    fn errors_are_the_envelope_on_the_statuses_each_method_answers() {
        let doc = document();
        let codes = |path: &str, method: &str| {
            let mut codes: Vec<String> =
                doc["paths"][path][method]["responses"].as_object().expect("responses").keys().cloned().collect();
            codes.sort();
            codes
        };
        assert_eq!(
            codes("/v1/portabilityArchive:initiate", "post"),
            ["200", "400", "401", "403", "409", "429", "500", "503"]
        );
        assert_eq!(
            codes("/v1/archiveJobs/{archiveJobsId}:retry", "post"),
            ["200", "400", "401", "403", "404", "429", "500", "503"]
        );
        assert_eq!(codes("/v1/accessType:check", "post"), ["200", "400", "401", "403", "429", "500", "503"]);
        let unauthenticated = &doc["components"]["responses"]["Unauthenticated"];
        assert_eq!(unauthenticated["content"][JSON]["schema"]["$ref"], "#/components/schemas/ErrorEnvelope");
        assert_eq!(unauthenticated["headers"]["WWW-Authenticate"]["required"], true);

        // The envelope schema describes what the server renders: every status name is a Code.
        for name in STATUS_NAMES {
            serde_json::from_value::<dataport_types::Code>(json!(name)).expect(name);
        }
        let status = &doc["components"]["schemas"]["Status"];
        assert_eq!(status["required"], json!(["code", "message", "status"]));
        let rendered = serde_json::to_value(
            dataport_core::ApiError::ResourceExhaustedTimeBased {
                previous_job_ids: vec!["j".into()],
                retry_at: dataport_types::Timestamp::now(),
                now: dataport_types::Timestamp::now(),
            }
            .to_status("d")
            .into_envelope(),
        )
        .expect("json");
        assert_eq!(
            rendered["error"]["details"][0]["@type"],
            doc["components"]["schemas"]["ErrorInfo"]["properties"]["@type"]["const"]
        );
        assert_eq!(
            rendered["error"]["details"][1]["@type"],
            doc["components"]["schemas"]["RetryInfo"]["properties"]["@type"]["const"]
        );
    }

    #[test]
    fn the_extension_schema_names_every_field_the_server_writes() {
        use dataport_types::{AccessType, ArchiveJobDetails, JobProgress, State, Timestamp};
        let details = ArchiveJobDetails {
            name: "archiveJobs/j".into(),
            state: State::Failed,
            resources: vec!["a.b".into()],
            access_type: AccessType::OneTime,
            start_time: Some(Timestamp::now()),
            export_time: Timestamp::now(),
            create_time: Timestamp::now(),
            finish_time: Some(Timestamp::now()),
            attempt: 1,
            failure_reason: Some("x".into()),
            retry_of: Some("i".into()),
            retry_index: 1,
            progress: JobProgress::default(),
        };
        let value = serde_json::to_value(&details).expect("json");
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&value), keys(&schemas["ArchiveJobDetails"]["properties"]));
        assert_eq!(keys(&value["progress"]), keys(&schemas["JobProgress"]["properties"]));
    }
}

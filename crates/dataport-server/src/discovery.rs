//! The discovery document (SPEC §2.3): Google's, with our origin and our catalogue's scopes, so
//! that Google's client generators and `discovery.build(...)` work against this server.

use serde_json::{Map, Value, json};

use dataport_core::catalogue::Catalogue;

const V1: &str = include_str!("../discovery/dataportability.v1.json");
const V1BETA: &str = include_str!("../discovery/dataportability.v1beta.json");

/// The rewritten documents, rendered once at start-up.
pub struct Discovery {
    v1: String,
    v1beta: String,
}

impl Discovery {
    /// Rewrites Google's documents for `origin` (no trailing slash) and the catalogue's scopes.
    pub fn new(origin: &str, catalogue: &Catalogue, scope_prefix: &str) -> Result<Self, serde_json::Error> {
        Ok(Self {
            v1: rewrite(V1, origin, catalogue, scope_prefix)?,
            v1beta: rewrite(V1BETA, origin, catalogue, scope_prefix)?,
        })
    }

    /// The document for `version` (`v1` or `v1beta`).
    pub fn get(&self, version: &str) -> Option<&str> {
        match version {
            "v1" => Some(&self.v1),
            "v1beta" => Some(&self.v1beta),
            _ => None,
        }
    }
}

fn rewrite(doc: &str, origin: &str, catalogue: &Catalogue, scope_prefix: &str) -> Result<String, serde_json::Error> {
    let mut doc: Value = serde_json::from_str(doc)?;
    let root = format!("{origin}/");
    let scopes: Map<String, Value> = catalogue
        .groups()
        .iter()
        .map(|g| (format!("{scope_prefix}{}", g.name), json!({ "description": g.description })))
        .collect();
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("rootUrl".into(), Value::String(root.clone()));
        obj.insert("baseUrl".into(), Value::String(root.clone()));
        obj.insert("mtlsRootUrl".into(), Value::String(root));
        obj.insert("auth".into(), json!({ "oauth2": { "scopes": scopes } }));
    }
    serde_json::to_string_pretty(&doc)
}

//! Google's system query parameters (SPEC §3): `alt`, `fields`, `prettyPrint`, `$.xgafv`,
//! `access_token`/`oauth_token`, `callback`; the rest are accepted and ignored.

use serde_json::{Map, Value};

/// The parsed system parameters of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemParams {
    pub pretty: bool,
    pub fields: Option<FieldMask>,
    /// JSONP function name.
    pub callback: Option<String>,
    /// Token from `access_token` or `oauth_token`.
    pub access_token: Option<String>,
}

impl Default for SystemParams {
    fn default() -> Self {
        Self { pretty: true, fields: None, callback: None, access_token: None }
    }
}

/// A bad system parameter: `(parameter, message)`.
pub type ParamError = (String, String);

impl SystemParams {
    /// Parses a raw query string. Unknown keys are ignored.
    pub fn parse(query: Option<&str>) -> Result<Self, ParamError> {
        let mut params = Self::default();
        let err = |name: &str, message: String| Err((name.to_owned(), message));
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "alt" => match value.as_ref() {
                    "json" => {}
                    "media" | "proto" => {
                        return err(
                            "alt",
                            format!("Invalid value for alt: {value:?} is not supported by this API; use json."),
                        );
                    }
                    _ => return err("alt", format!("Invalid value for alt: {value:?}.")),
                },
                "prettyPrint" => {
                    params.pretty = match value.as_ref() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return err(
                                "prettyPrint",
                                format!("Invalid value for prettyPrint: {value:?} is not a boolean."),
                            );
                        }
                    }
                }
                "$.xgafv" if !matches!(value.as_ref(), "1" | "2") => {
                    return err("$.xgafv", format!("Invalid value for $.xgafv: {value:?}; expected 1 or 2."));
                }
                "fields" => {
                    params.fields = Some(
                        FieldMask::parse(&value)
                            .map_err(|m| ("fields".to_owned(), format!("Invalid field selection: {m}")))?,
                    );
                }
                "callback" => {
                    if !valid_callback(&value) {
                        return err(
                            "callback",
                            format!("Invalid value for callback: {value:?} is not a function name."),
                        );
                    }
                    params.callback = Some(value.into_owned());
                }
                "access_token" | "oauth_token" => {
                    if params.access_token.as_deref().is_some_and(|t| t != value) {
                        return err(&key, "access_token and oauth_token carry different tokens.".to_owned());
                    }
                    params.access_token = Some(value.into_owned());
                }
                _ => {}
            }
        }
        Ok(params)
    }
}

fn valid_callback(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 256
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '.')
}

/// A partial-response selector: `a,b/c,d(e,f)`, or `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldMask(Vec<(String, Option<FieldMask>)>);

impl FieldMask {
    /// Parses the selector grammar: items separated by `,`; an item is a `/`-path, optionally
    /// followed by a parenthesised sub-selector.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parser = Parser { s: s.as_bytes(), at: 0 };
        let mask = parser.mask()?;
        if parser.at != parser.s.len() {
            return Err(format!("unexpected {:?} at position {}", char::from(parser.s[parser.at]), parser.at));
        }
        Ok(mask)
    }

    /// Checks the mask against the fields a response schema declares (all our responses are flat).
    pub fn validate(&self, schema: &[&str]) -> Result<(), String> {
        for (name, sub) in &self.0 {
            if name == "*" {
                continue;
            }
            if !schema.contains(&name.as_str()) {
                return Err(format!("unknown field {name:?}"));
            }
            if sub.is_some() {
                return Err(format!("field {name:?} has no sub-fields"));
            }
        }
        Ok(())
    }

    /// Keeps only the selected fields of a JSON object.
    pub fn apply(&self, value: Value) -> Value {
        if self.0.iter().any(|(name, _)| name == "*") {
            return value;
        }
        let Value::Object(object) = value else { return value };
        let kept: Map<String, Value> =
            object.into_iter().filter(|(k, _)| self.0.iter().any(|(name, _)| name == k)).collect();
        Value::Object(kept)
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn mask(&mut self) -> Result<FieldMask, String> {
        let mut items = Vec::new();
        loop {
            let mut path = vec![self.name()?];
            while self.eat(b'/') {
                path.push(self.name()?);
            }
            let sub = if self.eat(b'(') {
                let sub = self.mask()?;
                if !self.eat(b')') {
                    return Err(format!("missing ')' at position {}", self.at));
                }
                Some(sub)
            } else {
                None
            };
            // `a/b/c(d)` is `a(b(c(d)))`.
            let mut item = (path.pop().unwrap_or_default(), sub);
            while let Some(parent) = path.pop() {
                item = (parent, Some(FieldMask(vec![item])));
            }
            items.push(item);
            if !self.eat(b',') {
                return Ok(FieldMask(items));
            }
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.at;
        while self.at < self.s.len()
            && (self.s[self.at].is_ascii_alphanumeric() || matches!(self.s[self.at], b'_' | b'*'))
        {
            self.at += 1;
        }
        if start == self.at {
            return Err(format!("expected a field name at position {start}"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.at]).into_owned())
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.s.get(self.at) == Some(&c);
        if hit {
            self.at += 1;
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn system_params() {
        let p =
            SystemParams::parse(Some("prettyPrint=false&fields=state,urls&callback=cb.x&key=abc&foo=bar")).expect("ok");
        assert!(!p.pretty);
        assert_eq!(p.callback.as_deref(), Some("cb.x"));
        assert!(p.fields.is_some());
        for bad in [
            "alt=media",
            "alt=proto",
            "alt=xml",
            "%24.xgafv=3",
            "prettyPrint=maybe",
            "callback=1x",
            "callback=alert(1)",
            "fields=a(",
            "fields=,",
            "access_token=a&oauth_token=b",
        ] {
            assert!(SystemParams::parse(Some(bad)).is_err(), "{bad}");
        }
        assert!(SystemParams::parse(Some("alt=json&%24.xgafv=2&access_token=a&oauth_token=a")).is_ok());
    }

    #[test]
    fn field_masks() {
        let m = FieldMask::parse("state,urls").expect("ok");
        assert_eq!(m.validate(&["name", "state", "urls"]), Ok(()));
        assert_eq!(m.apply(json!({"name": "n", "state": "s", "urls": ["u"]})), json!({"state": "s", "urls": ["u"]}));
        assert!(FieldMask::parse("nope").expect("ok").validate(&["state"]).is_err());
        assert!(FieldMask::parse("state/x").expect("ok").validate(&["state"]).is_err());
        assert!(FieldMask::parse("state(x,y)").expect("ok").validate(&["state"]).is_err());
        assert_eq!(FieldMask::parse("*").expect("ok").apply(json!({"a": 1})), json!({"a": 1}));
        assert_eq!(
            FieldMask::parse("a/b(c,d),e").expect("ok"),
            FieldMask(vec![
                (
                    "a".into(),
                    Some(FieldMask(vec![("b".into(), Some(FieldMask(vec![("c".into(), None), ("d".into(), None)])))]))
                ),
                ("e".into(), None)
            ])
        );
    }
}

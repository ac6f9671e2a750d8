//! Checks an HTTP exchange against a carrier's official OpenAPI 3.0 document (the trimmed copies
//! in `tests/reference/`): the operation exists, query and form parameters are declared, required
//! ones are present, and bodies validate against the document's schemas. Error bodies, which the
//! documents do not (fully) declare, are checked against the shapes the references' READMEs give.

use serde_json::{json, Map, Value};

use crate::common::openapi30_to_json_schema;

pub struct Contract {
    doc: Value,
    /// The server URL's path (`/v2` for Telnyx): requests carry it, the document's paths do not.
    prefix: &'static str,
    /// The schema an error body must match when the operation does not declare the status.
    error_shape: Value,
}

fn load(file: &str) -> Value {
    let path = format!("{}/tests/reference/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Twilio's own examples break two of its schemas; real answers do the same. Exactly those two are
/// allowed: a `format: uri` may also be a path relative to the API host, and `latitude` /
/// `longitude` may also be decimal strings.
fn allow_twilio_deviations(v: &mut Value) {
    match v {
        Value::Object(map) => {
            // Children first: the alternatives added here must not be rewritten again.
            map.values_mut().for_each(allow_twilio_deviations);
            if map.get("format") == Some(&json!("uri")) {
                map.remove("format");
                map.insert("anyOf".into(), json!([{"format": "uri"}, {"pattern": "^/2010-04-01/"}]));
            }
            if let Some(Value::Object(props)) = map.get_mut("properties") {
                for key in ["latitude", "longitude"] {
                    if let Some(Value::Object(p)) = props.get_mut(key) {
                        p.insert("anyOf".into(), json!([{"type": "number"}, {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$"}]));
                        p.remove("type");
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(allow_twilio_deviations),
        _ => {}
    }
}

impl Contract {
    pub fn twilio() -> Contract {
        let mut doc = load("twilio/twilio_api_v2010.trimmed.json");
        allow_twilio_deviations(&mut doc);
        openapi30_to_json_schema(&mut doc);
        // README: `{"code", "message", "more_info", "status"}`.
        let error_shape = json!({
            "type": "object",
            "required": ["code", "message", "more_info", "status"],
            "properties": {
                "code": {"type": "integer"}, "message": {"type": "string"},
                "more_info": {"type": "string"}, "status": {"type": "integer"}
            }
        });
        Contract { doc, prefix: "", error_shape }
    }

    pub fn telnyx() -> Contract {
        let mut doc = load("telnyx/telnyx_numbers.openapi.json");
        openapi30_to_json_schema(&mut doc);
        // README: `{"errors": [{"code", "title", "detail", "source", "meta"}]}`, at least one.
        let error_shape = json!({"$ref": "#/components/schemas/Errors", "required": ["errors"], "properties": {"errors": {"minItems": 1}}});
        Contract { doc, prefix: "/v2", error_shape }
    }

    /// The document's path template and operation for a request, if it declares one.
    fn operation(&self, method: &str, path: &str) -> Result<(String, &Value), String> {
        let Some(path) = path.strip_prefix(self.prefix) else {
            return Err(format!("{path} is outside {}", self.prefix));
        };
        let segments: Vec<&str> = path.split('/').collect();
        let matches = |template: &str| {
            let t: Vec<&str> = template.split('/').collect();
            t.len() == segments.len()
                && t.iter().zip(&segments).all(|(t, s)| match (t.find('{'), t.find('}')) {
                    // `{Sid}.json`: a non-empty value with the literal suffix.
                    (Some(0), Some(end)) => s.len() > t.len() - end - 1 && s.ends_with(&t[end + 1..]),
                    _ => t == s,
                })
        };
        let paths = self.doc["paths"].as_object().unwrap();
        // A literal segment wins over a parameter, as in every router.
        let template = paths
            .keys()
            .filter(|t| matches(t))
            .min_by_key(|t| t.matches('{').count())
            .ok_or_else(|| format!("{method} {path}: no such path in the document"))?;
        let op = &paths[template][method.to_lowercase()];
        if op.is_null() {
            return Err(format!("{method} {template}: the document declares no such operation"));
        }
        Ok((template.clone(), op))
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v["$ref"].as_str() {
            Some(r) => self.doc.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling {r}")),
            None => v,
        }
    }

    /// Schema violations of `instance`, each with where it is.
    fn violations(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let mut root = match schema {
            Value::Object(m) => m.clone(),
            other => Map::from_iter([("allOf".to_owned(), json!([other]))]),
        };
        root.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
        root.insert("components".into(), self.doc["components"].clone());
        let validator = jsonschema::options().should_validate_formats(true).build(&Value::Object(root)).expect("schema compiles");
        validator.iter_errors(instance).map(|e| format!("{e} at {}", e.instance_path)).collect()
    }

    /// A query or form value as the schema's type: query strings carry no types of their own.
    fn typed(schema: &Value, raw: &str) -> Value {
        match schema["type"].as_str() {
            Some("string") | None => Value::String(raw.to_owned()),
            Some("array") => Value::Array(raw.split(',').map(|s| Self::typed(&schema["items"], s)).collect()),
            Some(_) => serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned())),
        }
    }

    /// Everything wrong with a request; empty when the document allows it.
    pub fn check_request(&self, method: &str, path: &str, query: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Vec<String> {
        let (template, op) = match self.operation(method, path) {
            Ok(found) => found,
            Err(e) => return vec![e],
        };
        let at = format!("{method} {template}");
        let mut problems = Vec::new();
        let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().map(|p| self.resolve(p)).collect();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
        for (name, value) in &pairs {
            match params.iter().find(|p| p["in"] == "query" && p["name"] == name.as_str()) {
                None => problems.push(format!("{at}: undeclared query parameter {name}")),
                Some(p) => problems.extend(
                    self.violations(&p["schema"], &Self::typed(&p["schema"], value))
                        .into_iter()
                        .map(|e| format!("{at}: query {name}: {e}")),
                ),
            }
        }
        for p in params.iter().filter(|p| p["in"] == "query" && p["required"] == true) {
            if !pairs.iter().any(|(n, _)| p["name"] == n.as_str()) {
                problems.push(format!("{at}: required query parameter {} missing", p["name"]));
            }
        }
        let request_body = self.resolve(&op["requestBody"]);
        let media = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_owned());
        match (request_body.is_null(), body.is_empty()) {
            (true, true) => {}
            (true, false) => problems.push(format!("{at}: a body where the document declares none")),
            (false, true) if request_body["required"] == true => problems.push(format!("{at}: required body missing")),
            (false, true) => {}
            (false, false) => {
                let media = media.unwrap_or_default();
                let schema = &request_body["content"][&media]["schema"];
                let instance = match media.as_str() {
                    "application/json" => serde_json::from_slice(body).unwrap_or(Value::Null),
                    "application/x-www-form-urlencoded" => {
                        let props = &self.resolve(schema)["properties"];
                        let mut form = Map::new();
                        for (k, v) in url::form_urlencoded::parse(body).into_owned() {
                            form.insert(k.clone(), Self::typed(&props[&k], &v));
                        }
                        Value::Object(form)
                    }
                    _ => Value::Null,
                };
                if schema.is_null() {
                    problems.push(format!("{at}: content type {media:?} is not declared"));
                } else {
                    problems.extend(self.violations(schema, &instance).into_iter().map(|e| format!("{at}: body: {e}")));
                    // Form bodies: every field must be one the document names.
                    if media == "application/x-www-form-urlencoded" {
                        let props = &self.resolve(schema)["properties"];
                        for k in instance.as_object().unwrap().keys().filter(|k| props.get(k.as_str()).is_none()) {
                            problems.push(format!("{at}: undeclared form field {k}"));
                        }
                    }
                }
            }
        }
        problems
    }

    /// Everything wrong with a response to a request the document allows.
    pub fn check_response(&self, method: &str, path: &str, status: u16, body: &[u8]) -> Vec<String> {
        let Ok((template, op)) = self.operation(method, path) else {
            return Vec::new();
        };
        let at = format!("{method} {template} → {status}");
        let declared = &op["responses"][status.to_string()];
        let parsed = || serde_json::from_slice::<Value>(body).map_err(|e| vec![format!("{at}: body is not JSON: {e}")]);
        if declared.is_null() {
            if status < 400 {
                return vec![format!("{at}: status not declared")];
            }
            // Errors: the operation's `default` (Telnyx) must hold, and the README's shape too.
            let instance = match parsed() {
                Ok(v) => v,
                Err(e) => return e,
            };
            let default = &self.resolve(&op["responses"]["default"])["content"]["application/json"]["schema"];
            let mut problems: Vec<String> = self.violations(&self.error_shape, &instance);
            if !default.is_null() {
                problems.extend(self.violations(default, &instance));
            }
            return problems.into_iter().map(|e| format!("{at}: error body: {e}")).collect();
        }
        let schema = &self.resolve(declared)["content"]["application/json"]["schema"];
        match (schema.is_null(), body.is_empty()) {
            (true, true) => Vec::new(),
            (true, false) => vec![format!("{at}: a body where the document declares none")],
            (false, _) => match parsed() {
                Ok(instance) => self.violations(schema, &instance).into_iter().map(|e| format!("{at}: {e}")).collect(),
                Err(e) => e,
            },
        }
    }
}

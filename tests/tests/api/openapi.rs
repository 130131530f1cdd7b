//! The committed OpenAPI document is exactly what the code generates, and complete.

use serde_json::Value;

const COMMITTED: &str = include_str!("../../../openapi/openapi.json");

#[test]
fn the_committed_spec_matches_the_code() {
    let generated = chat_api::openapi_json();
    assert!(
        generated == COMMITTED,
        "openapi/openapi.json is stale. Regenerate it with:\n    cargo run -p chat-server -- openapi > openapi/openapi.json"
    );
}

#[test]
fn every_operation_is_fully_documented() {
    let spec: Value = serde_json::from_str(COMMITTED).unwrap();
    // Bearer security is declared once, for the whole document; only the probes opt out.
    assert_eq!(spec["security"], serde_json::json!([{"bearerAuth": []}]));
    let mut ids = std::collections::HashSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{at}: no operationId"));
            assert!(ids.insert(id.to_owned()), "{at}: duplicate operationId {id}");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{at}: no tag");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|s| s.starts_with('2') || s == "101"), "{at}: no success response");
            for (status, response) in responses {
                let described = response.get("description").is_some() || response.get("$ref").is_some();
                assert!(described, "{at} {status}: no description");
            }
            if path.starts_with("/api/") {
                assert!(op.get("security").is_none(), "{at}: overrides the document's bearer security");
                for status in ["401", "500", "503"] {
                    assert!(responses.contains_key(status), "{at}: does not document {status}");
                }
                if path.contains('{') {
                    assert!(responses.contains_key("404"), "{at}: an id route must document 404");
                }
                if path.starts_with("/api/admin/") {
                    assert!(responses.contains_key("403"), "{at}: an admin route must document 403");
                }
                if op.get("requestBody").is_some() {
                    for status in ["400", "413", "415", "422"] {
                        assert!(responses.contains_key(status), "{at}: a body route must document {status}");
                    }
                }
            }
        }
    }
    assert_true_examples_everywhere(&spec);
}

/// Follows `$ref`s to what they name.
fn resolve<'a>(spec: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("external $ref {reference}"));
        node = spec.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {reference}"));
    }
    node
}

/// The examples of a media type: its own (`example`, `examples`), or its schema's (after
/// `$ref`s: `example`, `examples`).
fn examples_of<'a>(spec: &'a Value, media: &'a Value) -> Vec<&'a Value> {
    let mut found: Vec<&Value> = media.get("example").into_iter().collect();
    if let Some(named) = media.get("examples").and_then(Value::as_object) {
        found.extend(named.values().filter_map(|e| resolve(spec, e).get("value")));
    }
    if let Some(schema) = media.get("schema").map(|s| resolve(spec, s)) {
        found.extend(schema.get("example"));
        found.extend(schema.get("examples").and_then(Value::as_array).into_iter().flatten());
    }
    found
}

/// Checks `value` against `schema` with a JSON Schema 2020-12 validator (the
/// `jsonschema` crate), the document's components as the root of its `$ref`s: types,
/// formats, patterns, lengths, `oneOf`, `if`/`then`... One rule is stricter than JSON
/// Schema: an object schema (`type: object` with `properties`) that says nothing of other
/// properties takes none, so an example that names a renamed or removed field fails.
fn conforms(spec: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let mut root = serde_json::json!({"components": spec["components"].clone(), "anyOf": [schema.clone()]});
    close_objects(&mut root);
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| format!("{at}: the schema does not compile: {e}"))?;
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{at}{}: {e}", e.instance_path())).collect();
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}

/// Adds `unevaluatedProperties: false` to every object schema that lists its properties
/// and does not say whether it takes others, except the parts of an `allOf` (a tagged
/// union's variant is its struct's schema plus the tag, each part naming only its own
/// properties) and the components such parts refer to.
fn close_objects(root: &mut Value) {
    let mut parts = Vec::new();
    collect_all_of_refs(root, &mut parts);
    if let Some(schemas) = root["components"]["schemas"].as_object_mut() {
        for (name, schema) in schemas.iter_mut() {
            close(schema, parts.contains(&format!("#/components/schemas/{name}")));
        }
    }
    close(&mut root["anyOf"], false);
}

fn close(node: &mut Value, part: bool) {
    match node {
        Value::Object(map) => {
            let object = map.get("type").is_some_and(|t| t == "object");
            if object && !part && map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
            for (key, child) in map.iter_mut() {
                if key == "allOf" {
                    child.as_array_mut().into_iter().flatten().for_each(|p| close(p, true));
                } else {
                    close(child, false);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| close(item, false)),
        _ => {}
    }
}

fn collect_all_of_refs(node: &Value, found: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            for part in map.get("allOf").and_then(Value::as_array).into_iter().flatten() {
                found.extend(part.get("$ref").and_then(Value::as_str).map(str::to_owned));
            }
            map.values().for_each(|child| collect_all_of_refs(child, found));
        }
        Value::Array(items) => items.iter().for_each(|item| collect_all_of_refs(item, found)),
        _ => {}
    }
}

/// Every request body and every success response of every operation has an example (on
/// the media type, or on its schema after `$ref`s), and every example in the document
/// fits its schema.
fn assert_true_examples_everywhere(spec: &Value) {
    // (where, media type object, whether it must have an example)
    let mut media_types: Vec<(String, &Value, bool)> = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            if let Some(body) = op.get("requestBody").map(|b| resolve(spec, b)) {
                let content = body["content"].as_object().unwrap_or_else(|| panic!("{at}: a body without content"));
                for (media_type, media) in content {
                    media_types.push((format!("{at} request body ({media_type})"), media, true));
                }
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                let response = resolve(spec, response);
                // Error examples need not exist per operation (they are shared), but must be true.
                for (media_type, media) in response.get("content").and_then(Value::as_object).into_iter().flatten() {
                    media_types.push((format!("{at} {status} ({media_type})"), media, status.starts_with('2')));
                }
            }
        }
    }
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    for (what, media, required) in media_types {
        let examples = examples_of(spec, media);
        if required && examples.is_empty() {
            missing.push(what.clone());
        }
        let schema = media.get("schema").unwrap_or(&Value::Null);
        wrong.extend(examples.into_iter().filter_map(|example| conforms(spec, schema, example, &what).err()));
    }
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        let examples = schema
            .get("example")
            .into_iter()
            .chain(schema.get("examples").and_then(Value::as_array).into_iter().flatten());
        for example in examples {
            if let Err(e) = conforms(spec, schema, example, &format!("schema {name}")) {
                wrong.push(e);
            }
        }
    }
    assert!(missing.is_empty(), "no example for:\n  {}", missing.join("\n  "));
    assert!(wrong.is_empty(), "examples that do not fit their schema:\n  {}", wrong.join("\n  "));
}

#[test]
fn the_example_checker_catches_what_it_must() {
    let spec = serde_json::json!({"components": {"schemas": {"Page": {
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                       "nextCursor": {"type": ["integer", "null"]}}},
        "Item": {"type": "object", "required": ["id", "at"],
                 "properties": {"id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
                                "kind": {"oneOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]}}}}}});
    let page = serde_json::json!({"$ref": "#/components/schemas/Page"});
    let ok = serde_json::json!({"items": [{"id": 1, "at": "2026-11-24T09:30:00Z", "kind": "a"}], "nextCursor": null});
    assert_eq!(conforms(&spec, &page, &ok, "page"), Ok(()));
    for bad in [
        serde_json::json!({"items": [{"id": 1}]}),
        serde_json::json!({"items": [{"id": "1", "at": "2026-11-24T09:30:00Z"}]}),
        serde_json::json!({"items": [{"id": 1, "at": "yesterday"}]}),
        serde_json::json!({"items": [{"id": 1, "at": "2026-11-24T09:30:00Z", "kind": "c"}]}),
        serde_json::json!({"items": [], "next_cursor": 3}),
        serde_json::json!({"nextCursor": 3}),
    ] {
        assert!(conforms(&spec, &page, &bad, "page").is_err(), "{bad}");
    }
    let media = serde_json::json!({"schema": page});
    assert!(examples_of(&spec, &media).is_empty(), "a schema without an example has none");
}

#[tokio::test]
async fn the_docs_ui_and_the_spec_are_served_offline() {
    let app = chat_tests::TestApp::spawn().await;
    let redirect = app.http.get(format!("{}/docs", app.base)).send().await.unwrap();
    assert_eq!(redirect.status(), 200, "/docs redirects to /docs/ (followed)");
    assert_eq!(redirect.url().path(), "/docs/");

    let ui = app.call("GET", "/docs/", None, None).await;
    assert_eq!(ui.status, 200);
    assert!(ui.header("content-type").is_some_and(|t| t.starts_with("text/html")), "{:?}", ui.headers);
    let page = String::from_utf8_lossy(&ui.bytes);
    assert!(page.contains("swagger-ui"), "{page}");
    // The UI's assets are vendored: served by the app, never fetched from a CDN.
    assert!(!page.contains("https://"), "the docs page loads nothing from the internet: {page}");
    for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/docs/swagger-initializer.js"] {
        let reply = app.call("GET", asset, None, None).await;
        assert_eq!(reply.status, 200, "{asset}");
        assert!(!reply.bytes.is_empty(), "{asset}");
    }
    let initializer = app.call("GET", "/docs/swagger-initializer.js", None, None).await;
    assert!(String::from_utf8_lossy(&initializer.bytes).contains("/api-docs/openapi.json"));

    let spec = app.call("GET", "/api-docs/openapi.json", None, None).await;
    assert_eq!(spec.status, 200);
    assert!(spec.header("content-type").is_some_and(|t| t.starts_with("application/json")));
    let committed: Value = serde_json::from_str(COMMITTED).unwrap();
    assert_eq!(spec.json(), committed, "the served spec is the committed one");
}

/// Swagger UI validates the spec through validator.swagger.io by default, from any page
/// not served on localhost: the request leaks the spec's URL and fails offline.
#[tokio::test]
async fn the_docs_ui_never_asks_the_online_validator() {
    let app = chat_tests::TestApp::spawn().await;
    let initializer = app.call("GET", "/docs/swagger-initializer.js", None, None).await;
    assert_eq!(initializer.status, 200);
    let script = String::from_utf8_lossy(&initializer.bytes);
    // The served configuration: the JSON members inside `SwaggerUIBundle({ ... presets:`.
    let members = script
        .split_once("SwaggerUIBundle({")
        .and_then(|(_, rest)| rest.split_once("presets:"))
        .map(|(members, _)| members.trim().trim_end_matches(','))
        .unwrap_or_else(|| panic!("no SwaggerUIBundle configuration in {script}"));
    let config: Value = serde_json::from_str(&format!("{{{members}}}")).unwrap_or_else(|e| panic!("{e}: {members}"));
    assert_eq!(config["validatorUrl"], "none", "the validator is disabled: {config}");
    assert_eq!(config["url"], "/api-docs/openapi.json", "the spec comes from this server: {config}");
    assert!(!script.contains("validator.swagger.io"), "{script}");
}

#[tokio::test]
async fn the_problem_examples_say_what_the_server_sends() {
    let app = chat_tests::TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let spec: Value = serde_json::from_str(COMMITTED).unwrap();
    let example = |response: &str| {
        spec["components"]["responses"][response]["content"]["application/problem+json"]["example"].clone()
    };

    // A 404 has nothing variable: the example is the server's body, byte for byte.
    let missing = app.patch("/api/admin/chat/personas/424242", &admin, serde_json::json!({"isActive": true})).await;
    assert_eq!(missing.json(), example("NotFound"));

    // A 422: the same type, title, status, detail and code as both examples of it.
    let invalid = app.post("/api/admin/chat/personas", &admin, serde_json::json!({"name": ""})).await.json();
    let schema_example = spec["components"]["schemas"]["Problem"]["example"].clone();
    for documented in [example("ValidationFailed"), schema_example] {
        for key in ["type", "title", "status", "detail", "code"] {
            assert_eq!(invalid[key], documented[key], "{key}: {documented}");
        }
    }
    // Every shared error response names the title the server sends for its status.
    for (name, response) in spec["components"]["responses"].as_object().unwrap() {
        let documented = &response["content"]["application/problem+json"]["example"];
        let status = u16::try_from(documented["status"].as_u64().unwrap()).unwrap();
        let reason = actix_web::http::StatusCode::from_u16(status).unwrap().canonical_reason().unwrap();
        assert_eq!(documented["title"], reason, "{name}");
    }
}

/// The `type` values a schema's `oneOf` variants accept (nested `allOf` included).
fn frame_types(schema: &Value) -> std::collections::BTreeSet<String> {
    fn walk(v: &Value, out: &mut std::collections::BTreeSet<String>) {
        if let Some(values) = v.pointer("/properties/type/enum").and_then(Value::as_array) {
            out.extend(values.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        for key in ["oneOf", "allOf"] {
            for item in v.get(key).and_then(Value::as_array).into_iter().flatten() {
                walk(item, out);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(schema, &mut out);
    out
}

#[test]
fn every_socket_request_is_a_typed_client_frame() {
    let spec: Value = serde_json::from_str(COMMITTED).unwrap();
    let types = frame_types(&spec["components"]["schemas"]["ClientFrame"]);
    let expected = [
        "add-note",
        "admin-notification",
        "dm-message",
        "join-dm-conversation",
        "join-support-conversation",
        "join-support-queue",
        "ping",
        "read",
        "resume",
        "start-dm",
        "support-message",
        "support-response",
        "typing",
    ];
    assert_eq!(types, expected.iter().map(|t| (*t).to_owned()).collect());
}

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
                assert!(op["security"].as_array().is_some_and(|s| !s.is_empty()), "{at}: no security");
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

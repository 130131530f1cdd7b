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

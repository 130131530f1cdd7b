//! Personas through every layer.

use chat_tests::TestApp;
use serde_json::json;

const ADMIN_PERSONAS: &str = "/api/admin/chat/personas";

#[tokio::test]
async fn admins_create_list_and_update_personas() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let created = app
        .post(
            ADMIN_PERSONAS,
            &admin,
            json!({"name": "  Coach Mia ", "avatarUrl": "https://cdn.example.com/mia.png", "bio": "Coach", "dmEnabled": true}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    let mia = created.json();
    assert_eq!(mia["name"], "Coach Mia", "names are trimmed");
    assert_eq!(mia["dmEnabled"], true);
    assert_eq!(mia["isSupportAgent"], false);
    assert_eq!(mia["isActive"], true);
    let id = mia["id"].as_i64().unwrap();

    let updated = app.patch(&format!("{ADMIN_PERSONAS}/{id}"), &admin, json!({"bio": null, "name": "Mia"})).await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.json()["bio"], serde_json::Value::Null, "null clears the bio");
    assert_eq!(updated.json()["name"], "Mia");
    assert_eq!(updated.json()["avatarUrl"], "https://cdn.example.com/mia.png", "absent fields stay");

    let list = app.get(ADMIN_PERSONAS, &admin).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["name"], "Mia");
}

#[tokio::test]
async fn users_see_only_active_dm_enabled_personas_and_only_public_fields() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let (_, user) = app.user("alice");
    for (name, dm) in [("Open", true), ("Closed", false), ("Retired", true)] {
        let reply = app.post(ADMIN_PERSONAS, &admin, json!({"name": name, "dmEnabled": dm})).await;
        assert_eq!(reply.status, 201);
        if name == "Retired" {
            let id = reply.json()["id"].as_i64().unwrap();
            let off = app.patch(&format!("{ADMIN_PERSONAS}/{id}"), &admin, json!({"isActive": false})).await;
            assert_eq!(off.status, 200);
        }
    }
    let list = app.get("/api/user/chat/personas", &user).await;
    assert_eq!(list.status, 200);
    let items = list.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "Open");
    let mut keys: Vec<_> = items[0].as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["avatarUrl", "bio", "id", "name"], "no admin-only fields");
}

#[tokio::test]
async fn the_last_active_support_agent_cannot_be_retired() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let sam = app.post(ADMIN_PERSONAS, &admin, json!({"name": "Sam", "isSupportAgent": true})).await.json();
    let path = format!("{ADMIN_PERSONAS}/{}", sam["id"]);
    let refused = app.patch(&path, &admin, json!({"isActive": false})).await;
    assert_eq!((refused.status, refused.code().as_deref()), (409, Some("last_support_agent")));
    let refused = app.patch(&path, &admin, json!({"isSupportAgent": false})).await;
    assert_eq!(refused.status, 409);

    let leo = app.post(ADMIN_PERSONAS, &admin, json!({"name": "Leo", "isSupportAgent": true})).await;
    assert_eq!(leo.status, 201);
    let retired = app.patch(&path, &admin, json!({"isActive": false})).await;
    assert_eq!(retired.status, 200);
    assert_eq!(retired.json()["isActive"], false);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_fake_users WHERE is_active AND is_support_agent"), 1);
}

#[tokio::test]
async fn concurrent_retirements_never_leave_zero_support_agents() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let mut ids = Vec::new();
    for name in ["A", "B", "C", "D"] {
        let reply = app.post(ADMIN_PERSONAS, &admin, json!({"name": name, "isSupportAgent": true})).await;
        ids.push(reply.json()["id"].as_i64().unwrap());
    }
    let paths: Vec<String> = ids.iter().map(|id| format!("{ADMIN_PERSONAS}/{id}")).collect();
    let calls = paths.iter().map(|path| app.patch(path, &admin, json!({"isActive": false})));
    let replies = futures_util::future::join_all(calls).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 3, "exactly one agent must remain");
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_fake_users WHERE is_active AND is_support_agent"), 1);
}

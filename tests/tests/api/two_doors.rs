//! One use-case path, two doors: a socket frame and its REST twin parse into the same
//! request type, follow the same rules and answer the same problem codes; the team reads
//! persona DMs on both doors; `canDm` agrees with starting a DM; the small contract
//! points of docs/api-design.md hold.

use std::time::Duration;

use chat_api::ApiSettings;
use chat_domain::direct_messages::DmSettings;
use chat_tests::{Reply, TestApp, WsClient};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);
const DMS: &str = "/api/user/chat/direct-messages";

/// What an answer says, door-independently: the problem code and the first violation.
fn problem_of_reply(reply: &Reply) -> (Option<String>, Value, Value) {
    let body = reply.json();
    (reply.code(), body["errors"][0]["field"].clone(), body["errors"][0]["code"].clone())
}

fn problem_of_frame(frame: &Value) -> (Option<String>, Value, Value) {
    assert_eq!(frame["type"], "error", "{frame}");
    (frame["code"].as_str().map(str::to_owned), frame["errors"][0]["field"].clone(), frame["errors"][0]["code"].clone())
}

/// Everything a refused request could have stored.
fn stored(app: &TestApp) -> (i64, i64, i64) {
    (
        app.db.count("SELECT count(*) AS n FROM dm_messages"),
        app.db.count("SELECT count(*) AS n FROM direct_messages"),
        app.db.count("SELECT count(*) AS n FROM chat_messages"),
    )
}

/// `body` with `changes` applied (a `null` change removes the field).
fn with(body: &Value, changes: &Value) -> Value {
    let mut out = body.clone();
    for (key, value) in changes.as_object().unwrap() {
        if value.is_null() {
            out.as_object_mut().unwrap().remove(key);
        } else {
            out[key] = value.clone();
        }
    }
    out
}

/// Sends each invalid variant of `valid` on both doors and checks that they answer alike.
async fn same_on_both_doors(
    app: &TestApp,
    ws: &mut WsClient,
    token: &str,
    rest_path: &str,
    frame: (&str, Option<i64>),
    valid: &Value,
    invalid: &[(&str, Value)],
) {
    for (case, change) in invalid {
        let body = with(valid, change);
        let before = stored(app);
        let rest = app.post(rest_path, token, body.clone()).await;
        let mut socket = body.clone();
        socket["type"] = json!(frame.0);
        if let Some(conversation) = frame.1 {
            socket["conversationId"] = json!(conversation);
        }
        let reply = ws.request(socket, case).await;
        assert_eq!(rest.status, 422, "{} {case}: {}", frame.0, rest.json());
        assert_eq!(problem_of_frame(&reply), problem_of_reply(&rest), "{} {case}: {reply} vs {}", frame.0, rest.json());
        assert_eq!(stored(app), before, "{} {case}: nothing is stored", frame.0);
    }
}

#[tokio::test]
async fn every_frame_with_a_rest_twin_refuses_the_same_bodies_with_the_same_codes() {
    let app = TestApp::spawn().await;
    let (ada_id, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id, ada_id]);
    let support = app.post("/api/user/chat/support/messages", &alice, json!({"content": "help"})).await.json();
    let conversation = support["conversationId"].as_i64().unwrap();
    let dm = app.start_dm(&bob, alice_id).await;
    let mut alice_ws = WsClient::connect(&app, &alice).await;
    let mut bob_ws = WsClient::connect(&app, &bob).await;
    let mut ada_ws = WsClient::connect(&app, &ada).await;

    let key = "0b0f4c4e-8a51-4d1e-9a3f-3c7d2f1e9b10";
    let message = json!({"content": "hi", "clientMessageId": key});
    let message_cases = [
        ("unknown", json!({"clientMessageID": key})),
        ("type", json!({"content": 5})),
        ("missing", json!({"content": null})),
        ("long", json!({"content": "x".repeat(4001)})),
        ("uuid", json!({"clientMessageId": "not-a-uuid"})),
    ];
    let support_path = "/api/user/chat/support/messages";
    same_on_both_doors(&app, &mut alice_ws, &alice, support_path, ("support-message", None), &message, &message_cases)
        .await;
    let dm_path = format!("{DMS}/{dm}/messages");
    same_on_both_doors(&app, &mut bob_ws, &bob, &dm_path, ("dm-message", Some(dm)), &message, &message_cases).await;
    let reply_path = format!("/api/admin/chat/support/{conversation}/messages");
    let reply = ("support-response", Some(conversation));
    same_on_both_doors(&app, &mut ada_ws, &ada, &reply_path, reply, &message, &message_cases).await;

    let start = json!({"targetType": "real_user", "targetId": alice_id});
    let start_cases = [
        ("unknown", json!({"target": 1})),
        ("type", json!({"targetId": "alice"})),
        ("missing", json!({"targetId": null})),
        ("enum", json!({"targetType": "robot"})),
    ];
    same_on_both_doors(&app, &mut bob_ws, &bob, DMS, ("start-dm", None), &start, &start_cases).await;

    let read = json!({"lastReadMessageId": 1});
    let read_cases = [
        ("unknown", json!({"lastReadMessageID": 1})),
        ("type", json!({"lastReadMessageId": "1"})),
        ("missing", json!({"lastReadMessageId": null})),
    ];
    let read_path = format!("{DMS}/{dm}/read");
    same_on_both_doors(&app, &mut bob_ws, &bob, &read_path, ("read", Some(dm)), &read, &read_cases).await;

    let notice = json!({"userId": alice_id, "content": "Maintenance tonight", "template": "info"});
    let notice_cases = [
        ("unknown", json!({"userID": alice_id})),
        ("type", json!({"content": 5})),
        ("missing", json!({"content": null})),
        ("long", json!({"content": "x".repeat(4001)})),
    ];
    let notices = "/api/admin/chat/notifications";
    same_on_both_doors(&app, &mut ada_ws, &ada, notices, ("admin-notification", None), &notice, &notice_cases).await;

    let note = json!({"content": "called her back", "clientNoteId": key});
    let note_cases = [
        ("unknown", json!({"clientNoteID": key})),
        ("type", json!({"content": 5})),
        ("missing", json!({"content": null})),
        ("long", json!({"content": "x".repeat(4001)})),
        ("blank", json!({"content": " \n "})),
        ("uuid", json!({"clientNoteId": "not-a-uuid"})),
    ];
    let notes = format!("/api/admin/chat/support/{conversation}/notes");
    same_on_both_doors(&app, &mut ada_ws, &ada, &notes, ("add-note", Some(conversation)), &note, &note_cases).await;
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_internal_notes"), 0, "no refused note is stored");
}

#[tokio::test]
async fn socket_errors_use_documented_problem_codes() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user("alice");
    let mut ws = WsClient::connect(&app, &alice).await;
    let documented = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api-design.md")).unwrap();
    let cases = [
        ("unknown type", json!({"type": "no-such-thing"})),
        ("no type", json!({"content": "x"})),
        ("missing field", json!({"type": "join-dm-conversation"})),
        ("wrong type", json!({"type": "read", "conversationId": "one", "lastReadMessageId": 1})),
    ];
    for (case, frame) in cases {
        let reply = ws.request(frame, case).await;
        let code = reply["code"].as_str().unwrap().to_owned();
        assert!(documented.contains(&format!("`{code}`")), "{case}: `{code}` is not a documented problem code");
        assert_eq!(code, "validation_failed", "{case}: {reply}");
    }
    // Not JSON at all: the REST answer to a body that is not JSON.
    ws.send_text("{not json").await;
    let reply = ws.until(WAIT, |f| f["type"] == "error").await;
    assert_eq!(reply["code"], "malformed_json", "{reply}");
}

#[tokio::test]
async fn the_team_marks_a_persona_dm_read_on_both_doors() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (_, eve) = app.admin("eve");
    let (_, alice) = app.user("alice");
    let mia = app.post("/api/admin/chat/personas", &ada, json!({"name": "Mia", "dmEnabled": true})).await.json();
    let started = app.post(DMS, &alice, json!({"targetType": "fake_user", "targetId": mia["id"]})).await.json();
    let dm = started["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for text in ["one", "two"] {
        let sent = app.post(&format!("{DMS}/{dm}/messages"), &alice, json!({"content": text})).await;
        ids.push(sent.json()["id"].as_i64().unwrap());
    }
    let mut alice_ws = WsClient::connect(&app, &alice).await;
    let mut eve_ws = WsClient::connect(&app, &eve).await;
    assert_eq!(eve_ws.request(json!({"type": "join-support-queue"}), "q").await["type"], "ack");
    assert_eq!(alice_ws.request(json!({"type": "ping"}), "p").await["type"], "pong");
    assert_eq!(admin_view(&app, &ada, dm).await, (2, true));

    // A user cannot use the team's route, not even in their own DM.
    let refused = app
        .post(&format!("/api/admin/chat/direct-messages/{dm}/read"), &alice, json!({"lastReadMessageId": ids[1]}))
        .await;
    assert_eq!((refused.status, refused.code().as_deref()), (403, Some("admin_only")));

    // Over REST: the team's read state moves, and the user and the admins hear of it.
    let read = app
        .post(&format!("/api/admin/chat/direct-messages/{dm}/read"), &ada, json!({"lastReadMessageId": ids[0]}))
        .await;
    assert_eq!(read.status, 200, "{}", read.json());
    assert_eq!(read.json(), json!({"lastReadMessageId": ids[0], "unreadCount": 1}));
    assert_eq!(admin_view(&app, &ada, dm).await, (1, true));
    let heard = alice_ws.until(WAIT, |f| f["type"] == "read").await;
    assert_eq!((heard["conversationId"].as_i64(), heard["lastReadMessageId"].as_i64()), (Some(dm), Some(ids[0])));
    assert_ne!(heard["reader"]["type"], "real_user", "the team read: {heard}");
    let seen = eve_ws.until(WAIT, |f| f["type"] == "read").await;
    assert_eq!(seen["lastReadMessageId"].as_i64(), Some(ids[0]));

    // Over the socket, from an admin who joined the DM.
    let mut ada_ws = WsClient::connect(&app, &ada).await;
    assert_eq!(ada_ws.request(json!({"type": "join-dm-conversation", "conversationId": dm}), "j").await["type"], "ack");
    let ack = ada_ws.request(json!({"type": "read", "conversationId": dm, "lastReadMessageId": ids[1]}), "r").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["read"], json!({"lastReadMessageId": ids[1], "unreadCount": 0}));
    assert_eq!(admin_view(&app, &ada, dm).await, (0, false));
    let heard = alice_ws.until(WAIT, |f| f["type"] == "read").await;
    assert_eq!(heard["lastReadMessageId"].as_i64(), Some(ids[1]));
    let seen = eve_ws.until(WAIT, |f| f["type"] == "read").await;
    assert_eq!(seen["lastReadMessageId"].as_i64(), Some(ids[1]));

    // The user's own read state is untouched by the team's.
    let mine = app.get(&format!("{DMS}/{dm}"), &alice).await.json();
    assert_eq!(mine["lastReadMessageId"].as_i64(), Some(ids[1]), "her own messages count as read by her");
}

/// The team's unread count and `waitingForPersona` of `dm` in the admin DM list.
async fn admin_view(app: &TestApp, admin: &str, dm: i64) -> (i64, bool) {
    let list = app.get("/api/admin/chat/direct-messages", admin).await.json();
    let item = list["items"].as_array().unwrap().iter().find(|d| d["id"] == dm).cloned().unwrap();
    (item["otherUnreadCount"].as_i64().unwrap(), item["waitingForPersona"].as_bool().unwrap())
}

/// Every member's `canDm` in `group`, as `alice` sees it, next to what starting a DM with
/// them answers (status and code).
async fn can_dm_and_start(app: &TestApp, alice: &str, group: i32) -> Vec<(i64, bool, u16, Option<String>)> {
    let members = app.get(&format!("/api/user/chat/groups/{group}/members?limit=100"), alice).await.json();
    let mut out = Vec::new();
    for member in members["items"].as_array().unwrap() {
        let id = member["id"].as_i64().unwrap();
        let start = app.post(DMS, alice, json!({"targetType": "real_user", "targetId": id})).await;
        out.push((id, member["canDm"].as_bool().unwrap(), start.status, start.code()));
    }
    out
}

#[tokio::test]
async fn can_dm_agrees_with_starting_for_every_member_of_a_group() {
    const LIMIT: i64 = 3;
    let settings = ApiSettings { dms: DmSettings { max_active: LIMIT }, ..ApiSettings::default() };
    let app = TestApp::spawn_configured(settings).await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob"); // alice blocks bob
    let (carol_id, carol) = app.user("carol"); // carol blocks alice
    let (dave_id, dave) = app.user("dave"); // at his own limit
    let (frank_id, _) = app.user("frank"); // shares only alice's personal group
    let (old_id, _) = app.user("olga"); // alice already has a DM with her
    let friends: Vec<(i32, String)> = ["x1", "x2", "x3"].iter().map(|name| app.user(name)).collect();
    let (erin_id, _) = app.user("erin"); // reachable, last in id order
    let main = app.db.group("Main", "main", &[alice_id, bob_id, carol_id, dave_id, old_id, erin_id]);
    let personal = app.db.group("Alice", "personal", &[alice_id, frank_id, erin_id]);
    let friend_ids: Vec<i32> = friends.iter().map(|(id, _)| *id).collect();
    app.db.group("Dave's", "other", &[&[dave_id][..], &friend_ids].concat());
    for (_, friend) in &friends {
        app.start_dm(friend, dave_id).await;
    }
    app.start_dm(&alice, old_id).await;
    assert_eq!(app.post(&format!("/api/user/chat/blocks/{bob_id}"), &alice, json!({})).await.status / 100, 2);
    assert_eq!(app.post(&format!("/api/user/chat/blocks/{alice_id}"), &carol, json!({})).await.status / 100, 2);
    let _ = (bob, dave);

    let check = |rows: &[(i64, bool, u16, Option<String>)]| {
        for (id, can_dm, status, code) in rows {
            assert_eq!(*can_dm, *status / 100 == 2, "member {id}: canDm {can_dm}, start {status} {code:?}");
        }
    };
    // Below alice's limit: the block either way, dave's limit and no shared group refuse.
    let rows = can_dm_and_start(&app, &alice, main).await;
    check(&rows);
    let code = |id: i32| rows.iter().find(|r| r.0 == i64::from(id)).unwrap().3.clone();
    assert_eq!(code(bob_id).as_deref(), Some("dm_you_blocked"));
    assert_eq!(code(carol_id).as_deref(), Some("dm_no_shared_group"));
    assert_eq!(code(dave_id).as_deref(), Some("dm_target_limit_reached"));
    let rows = can_dm_and_start(&app, &alice, personal).await;
    check(&rows);
    let code = |id: i32| rows.iter().find(|r| r.0 == i64::from(id)).unwrap().3.clone();
    assert_eq!(code(frank_id).as_deref(), Some("dm_no_shared_group"));

    // Alice now has olga and erin; one more makes her limit.
    let (gina_id, _) = app.user("gina");
    let (hank_id, _) = app.user("hank");
    let other = app.db.group("Other", "other", &[alice_id, gina_id, hank_id]);
    app.start_dm(&alice, gina_id).await;
    assert_eq!(app.db.count(&format!(
        "SELECT count(*) AS n FROM direct_messages WHERE user2_type = 'real_user' AND (user1_id = {alice_id} OR user2_id = {alice_id})"
    )), LIMIT);
    for group in [main, personal, other] {
        let rows = can_dm_and_start(&app, &alice, group).await;
        check(&rows);
        if group == other {
            let hank = rows.iter().find(|r| r.0 == i64::from(hank_id)).unwrap();
            assert_eq!(hank.3.as_deref(), Some("dm_limit_reached"), "{rows:?}");
            let gina = rows.iter().find(|r| r.0 == i64::from(gina_id)).unwrap();
            assert!(gina.1, "an existing DM can always be opened: {rows:?}");
        }
    }
}

#[tokio::test]
async fn text_ids_and_idempotency_keys_follow_the_written_contract() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let dm = app.start_dm(&alice, bob_id).await;

    // A carriage return is the documented exception (docs/api-design.md): stored as a
    // line feed, alone or in CRLF; any other control character is refused.
    for raw in ["a\rb", "a\r\nb"] {
        let sent = app.post(&format!("{DMS}/{dm}/messages"), &alice, json!({"content": raw})).await;
        assert_eq!((sent.status, sent.json()["content"].clone()), (201, json!("a\nb")), "{raw:?}");
    }
    let bell = app.post(&format!("{DMS}/{dm}/messages"), &alice, json!({"content": "a\u{7}b"})).await;
    assert_eq!(
        problem_of_reply(&bell),
        (Some("validation_failed".into()), json!("content"), json!("control_character"))
    );

    // A path id is digits only: `+1` is malformed, the same 404 as a missing id.
    let canonical = app.get(&format!("{DMS}/{dm}"), &alice).await;
    assert_eq!(canonical.status, 200);
    let missing = app.get(&format!("{DMS}/999999"), &alice).await;
    for malformed in [format!("+{dm}"), format!("0{dm}"), format!("{dm}.0")] {
        let reply = app.get(&format!("{DMS}/{malformed}"), &alice).await;
        assert_eq!((reply.status, reply.json()), (404, missing.json()), "{malformed}");
    }

    // The same sender reusing a clientMessageId with other content is told, not ignored.
    let key = "6f1c2a4e-0b7d-4c1e-9a55-2d3e4f5a6b7c";
    let first =
        app.post(&format!("{DMS}/{dm}/messages"), &alice, json!({"content": "hi", "clientMessageId": key})).await;
    assert_eq!(first.status, 201);
    let retry =
        app.post(&format!("{DMS}/{dm}/messages"), &alice, json!({"content": "hi", "clientMessageId": key})).await;
    assert_eq!((retry.status, retry.json()["id"].clone()), (200, first.json()["id"].clone()));
    let other =
        app.post(&format!("{DMS}/{dm}/messages"), &alice, json!({"content": "bye", "clientMessageId": key})).await;
    assert_eq!((other.status, other.code().as_deref()), (409, Some("idempotency_key_reused")));
    let mut ws = WsClient::connect(&app, &alice).await;
    let frame = json!({"type": "dm-message", "conversationId": dm, "content": "bye", "clientMessageId": key});
    assert_eq!(ws.request(frame, "k").await["code"], "idempotency_key_reused");
    let stored = app.db.count(&format!("SELECT count(*) AS n FROM dm_messages WHERE client_message_id = '{key}'"));
    assert_eq!(stored, 1);
    let _ = bob;
}

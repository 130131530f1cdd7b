//! Typing in DMs between users: the blocks are read once per socket and DM, and a block
//! or unblock (over REST) reaches both users' sockets as a signal that drops what they
//! remembered, never as a frame. Cross-instance: `fanout.rs`.

use std::time::Duration;

use chat_domain::UserId;
use chat_domain::events::ChatEvent;
use chat_tests::{TestApp, WsClient};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

/// Sends a typing frame with `id`, and returns the refusal's code, if the server refused
/// it (a typing frame is answered only when refused; the frames before the pong of a
/// following ping hold any answer, the session answering in order).
pub(crate) async fn typing_refusal(ws: &mut WsClient, dm: i64, id: &str) -> Option<String> {
    ws.send(json!({"type": "typing", "id": id, "conversationId": dm, "isTyping": true})).await;
    let frames = ws.drain(&format!("{id}-drained")).await;
    let answers: Vec<&Value> = frames.iter().filter(|f| f["id"] == id).collect();
    assert!(answers.len() <= 1, "{answers:?}");
    answers.first().map(|f| {
        assert_eq!(f["type"], "error", "{f}");
        f["code"].as_str().unwrap().to_owned()
    })
}

/// Whether `frame` is a typing event of `user` in `dm`.
pub(crate) fn typing_of(frame: &Value, dm: i64, user: i32) -> bool {
    frame["type"] == "typing" && frame["conversationId"] == dm && frame["sender"]["id"] == user
}

#[tokio::test]
async fn a_block_stops_typing_at_once_though_typing_was_answered_from_memory() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    let (carol_id, carol) = app.user("carol");
    app.db.group("Main", "main", &[alice_id, bob_id, carol_id]);
    let dm = app.start_dm(&alice, bob_id).await;
    let mut alice_ws = WsClient::connect(&app, &alice).await;
    let mut bob_ws = WsClient::connect(&app, &bob).await;
    let mut carol_ws = WsClient::connect(&app, &carol).await;
    for ws in [&mut alice_ws, &mut bob_ws, &mut carol_ws] {
        ws.drain("hello").await;
    }

    // Both type, twice: the first frame of each reads the blocks, the second is answered
    // from the verdict the socket keeps; both reach the other side.
    for round in 0..2 {
        assert_eq!(typing_refusal(&mut alice_ws, dm, &format!("a{round}")).await, None);
        bob_ws.until(WAIT, |f| typing_of(f, dm, alice_id)).await;
        assert_eq!(typing_refusal(&mut bob_ws, dm, &format!("b{round}")).await, None);
        alice_ws.until(WAIT, |f| typing_of(f, dm, bob_id)).await;
    }

    // Everything so far (the typing echoes) is read; then Bob blocks Alice, and no
    // socket is shown anything of it.
    app.hub_barrier(&carol).await;
    for ws in [&mut alice_ws, &mut bob_ws, &mut carol_ws] {
        ws.drain("before-block").await;
    }
    let block = app.call("POST", &format!("/api/user/chat/blocks/{alice_id}"), Some(&bob), None).await;
    assert_eq!(block.status, 201);
    app.hub_barrier(&carol).await;
    for (name, ws) in [("alice", &mut alice_ws), ("bob", &mut bob_ws), ("carol", &mut carol_ws)] {
        let frames = ws.drain("after-block").await;
        assert!(frames.is_empty(), "{name}'s socket got a frame for the block: {frames:?}");
    }

    // Both sockets had a standing verdict; the block dropped it: neither may type, with
    // the code of a blocked send, and nobody hears of it.
    assert_eq!(typing_refusal(&mut alice_ws, dm, "a-blocked").await.as_deref(), Some("dm_unavailable"));
    assert_eq!(typing_refusal(&mut bob_ws, dm, "b-blocked").await.as_deref(), Some("dm_unavailable"));
    app.hub_barrier(&carol).await;
    for ws in [&mut alice_ws, &mut bob_ws] {
        let frames = ws.drain("after-refusals").await;
        assert!(frames.iter().all(|f| f["type"] != "typing"), "{frames:?}");
    }

    // Unblocked: no frame for that either, and typing works again, both ways.
    let unblock = app.call("DELETE", &format!("/api/user/chat/blocks/{alice_id}"), Some(&bob), None).await;
    assert_eq!(unblock.status, 204);
    app.hub_barrier(&carol).await;
    for (name, ws) in [("alice", &mut alice_ws), ("bob", &mut bob_ws), ("carol", &mut carol_ws)] {
        let frames = ws.drain("after-unblock").await;
        assert!(frames.is_empty(), "{name}'s socket got a frame for the unblock: {frames:?}");
    }
    assert_eq!(typing_refusal(&mut alice_ws, dm, "a-again").await, None);
    bob_ws.until(WAIT, |f| typing_of(f, dm, alice_id)).await;
    assert_eq!(typing_refusal(&mut bob_ws, dm, "b-again").await, None);
    alice_ws.until(WAIT, |f| typing_of(f, dm, bob_id)).await;
}

/// A block between two users touches only their own DM's verdicts: Alice and Carol
/// keep typing in theirs, and Carol's socket gets nothing when Bob blocks Alice.
#[tokio::test]
async fn a_block_between_two_users_reaches_no_one_else() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    let (carol_id, carol) = app.user("carol");
    app.db.group("Main", "main", &[alice_id, bob_id, carol_id]);
    let with_bob = app.start_dm(&alice, bob_id).await;
    let with_carol = app.start_dm(&alice, carol_id).await;
    let mut alice_ws = WsClient::connect(&app, &alice).await;
    let mut carol_ws = WsClient::connect(&app, &carol).await;
    for ws in [&mut alice_ws, &mut carol_ws] {
        ws.drain("hello").await;
    }
    assert_eq!(typing_refusal(&mut alice_ws, with_bob, "a1").await, None);
    assert_eq!(typing_refusal(&mut alice_ws, with_carol, "a2").await, None);
    carol_ws.until(WAIT, |f| typing_of(f, with_carol, alice_id)).await;
    app.hub_barrier(&carol).await;
    carol_ws.drain("before-blocks").await;

    for (method, status) in [("POST", 201), ("DELETE", 204), ("POST", 201)] {
        let changed = app.call(method, &format!("/api/user/chat/blocks/{alice_id}"), Some(&bob), None).await;
        assert_eq!(changed.status, status);
    }
    app.hub_barrier(&carol).await;
    let frames = carol_ws.drain("after-blocks").await;
    assert!(frames.is_empty(), "carol's socket got a frame for a block between others: {frames:?}");

    assert_eq!(typing_refusal(&mut alice_ws, with_bob, "a3").await.as_deref(), Some("dm_unavailable"));
    assert_eq!(typing_refusal(&mut alice_ws, with_carol, "a4").await, None);
    carol_ws.until(WAIT, |f| typing_of(f, with_carol, alice_id)).await;
    assert_eq!(typing_refusal(&mut carol_ws, with_carol, "c1").await, None);
    alice_ws.until(WAIT, |f| typing_of(f, with_carol, carol_id)).await;
}

/// The change of blocks has no rendering: no frame exists for any socket to receive.
#[test]
fn a_change_of_blocks_is_rendered_for_nobody() {
    let event = ChatEvent::BlocksChanged { blocker: UserId(1), blocked: UserId(2) };
    assert!(chat_api::realtime::render::envelope(&event).is_none());
}

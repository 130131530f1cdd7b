//! The admin stats: a scripted support history with known times gives exactly the
//! expected figures per bucket, per responder and per assignee; the real send path
//! feeds the same episodes; users get 403; bad ranges are 422 naming the field.
//!
//! The history is written with SQL (timestamps set explicitly), each step making the
//! same changes to `direct_messages` as the application's statements do, so that the
//! episode trigger sees what it sees in production.

use std::time::Duration;

use chat_domain::stats::Period;
use chat_tests::{TestApp, WsClient};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use serde_json::{Value, json};

const STATS: &str = "/api/admin/chat/stats";

/// Writes a support history as the application would, at given times.
struct Script {
    conn: PgConnection,
}

impl Script {
    fn sql(&mut self, sql: &str) {
        self.conn.batch_execute(sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
    }

    fn support(&mut self, user: i32, persona: i64, assignee: Option<i32>) -> i64 {
        let assignee = assignee.map_or("NULL".to_owned(), |a| a.to_string());
        let id = self.next_id("direct_messages");
        self.sql(&format!(
            "INSERT INTO direct_messages (id, conversation_type, user1_id, user2_type, fake_user_id, support_status,
                                          assignee_admin_id, created_at)
             VALUES ({id}, 'support', {user}, 'support', {persona}, 'open', {assignee}, '2026-02-01Z')"
        ));
        id
    }

    fn next_id(&mut self, table: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        use diesel::RunQueryDsl;
        diesel::sql_query(format!("SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS n"))
            .get_result::<N>(&mut self.conn)
            .unwrap()
            .n
    }

    /// A message in conversation `c` at `at`; `then` is the conversation's change.
    fn message(&mut self, c: i64, at: &str, sender: &str, then: &str) {
        self.sql(&format!(
            "WITH m AS (
                INSERT INTO dm_messages (conversation_id, seq, sender_id, sender_type, acting_admin_id, content,
                                         message_type, created_at)
                SELECT id, last_seq + 1, {sender}, 'hello', 'text', '{at}' FROM direct_messages WHERE id = {c}
                RETURNING id, seq, created_at)
             UPDATE direct_messages d SET last_message_id = m.id, last_seq = m.seq, last_message_at = m.created_at,
                    updated_at = m.created_at {then}
               FROM m WHERE d.id = {c}"
        ));
    }

    fn user_says(&mut self, c: i64, at: &str) {
        self.message(
            c,
            at,
            "user1_id, 'real_user', NULL",
            ", support_status = 'open', waiting_since = COALESCE(d.waiting_since, m.created_at)",
        );
    }

    fn persona_answers(&mut self, c: i64, at: &str, persona: i64, admin: i32) {
        let sender = format!("{persona}, 'fake_user', {admin}");
        self.message(c, at, &sender, ", support_status = 'pending', waiting_since = NULL");
    }

    fn team_answers(&mut self, c: i64, at: &str, admin: i32) {
        let sender = format!("{admin}, 'admin', {admin}");
        self.message(c, at, &sender, ", support_status = 'pending', waiting_since = NULL");
    }

    /// An admin assigns the conversation (`None`: unassigns it).
    fn assign(&mut self, c: i64, at: &str, admin: Option<i32>) {
        let admin = admin.map_or("NULL".to_owned(), |a| a.to_string());
        self.sql(&format!(
            "UPDATE direct_messages SET assignee_admin_id = {admin}, updated_at = '{at}' WHERE id = {c}"
        ));
    }

    /// An admin sets a status by hand (no message).
    fn set_status(&mut self, c: i64, at: &str, status: &str) {
        self.sql(&format!(
            "UPDATE direct_messages SET support_status = '{status}', waiting_since = NULL, updated_at = '{at}'
              WHERE id = {c}"
        ));
    }
}

async fn persona(app: &TestApp, admin: &str, name: &str) -> i64 {
    let reply = app.post("/api/admin/chat/personas", admin, json!({"name": name, "isSupportAgent": true})).await;
    assert_eq!(reply.status, 201);
    reply.json()["id"].as_i64().unwrap()
}

async fn stats(app: &TestApp, token: &str, path: &str) -> Value {
    let reply = app.get(path, token).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.json());
    reply.json()
}

/// `[count, p50, p90]` of a durations object.
fn durations(d: &Value) -> Value {
    json!([d["count"], d["p50Seconds"], d["p90Seconds"]])
}

/// `[opened, reopened, resolved, backlog, firstResponse, resolution]` per bucket.
fn support_figures(buckets: &Value) -> Vec<Value> {
    buckets
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let s = &b["support"];
            json!([
                s["opened"],
                s["reopened"],
                s["resolved"],
                s["backlog"],
                durations(&s["firstResponse"]),
                durations(&s["resolution"])
            ])
        })
        .collect()
}

/// No durations measured.
fn none() -> Value {
    json!([0, null, null])
}

/// The history (March 2026; the 2nd is a Monday):
///
/// | episode | assignee | start | first response | resolved |
/// |---|---|---|---|---|
/// | E  | none | 03-01 20:00 (before the range) | - | - |
/// | A1 | ada  | 03-02 09:00 | 09:10 Sam (600 s; the user writes again at 09:20, answered 09:30) | 03-02 11:00 (7,200 s) |
/// | B1 | none | 03-02 10:00 | 12:00 Mia (7,200 s) | 03-03 12:00 (93,600 s) |
/// | C1 | ben  | 03-02 23:00 | 03-03 01:00 Sam (7,200 s) | - |
/// | A2 (reopen) | ada | 03-03 10:00 | 10:30 team (1,800 s) | 03-04 10:00 (86,400 s) |
/// | D1 | ada  | 03-03 08:00 | - (set `pending` by hand at 09:00: no response) | 03-04 09:00 (90,000 s) |
#[tokio::test]
async fn a_scripted_history_gives_exactly_the_expected_figures() {
    let app = TestApp::spawn().await;
    let (ada, ada_token) = app.admin("ada");
    let (ben, _) = app.admin("ben");
    let sam = persona(&app, &ada_token, "Sam").await;
    let mia = persona(&app, &ada_token, "Mia").await;
    let (alice, _) = app.user("alice");
    let (bob, _) = app.user("bob");
    let (carol, _) = app.user("carol");
    let (dave, _) = app.user("dave");
    let (erin, _) = app.user("erin");
    let mut s = Script { conn: app.db.conn() };

    let e = s.support(erin, sam, None);
    s.user_says(e, "2026-03-01 20:00Z");

    let a = s.support(alice, sam, Some(ada));
    let b = s.support(bob, sam, None);
    let c = s.support(carol, sam, Some(ben));
    let d = s.support(dave, sam, Some(ada));
    s.user_says(a, "2026-03-02 09:00Z");
    s.persona_answers(a, "2026-03-02 09:10Z", sam, ada);
    s.user_says(a, "2026-03-02 09:20Z");
    s.persona_answers(a, "2026-03-02 09:30Z", sam, ada);
    s.user_says(b, "2026-03-02 10:00Z");
    s.set_status(a, "2026-03-02 11:00Z", "resolved");
    s.persona_answers(b, "2026-03-02 12:00Z", mia, ben);
    s.user_says(c, "2026-03-02 23:00Z");
    s.persona_answers(c, "2026-03-03 01:00Z", sam, ben);
    s.user_says(d, "2026-03-03 08:00Z");
    s.set_status(d, "2026-03-03 09:00Z", "pending");
    s.user_says(a, "2026-03-03 10:00Z");
    s.team_answers(a, "2026-03-03 10:30Z", ada);
    s.set_status(b, "2026-03-03 12:00Z", "resolved");
    s.set_status(d, "2026-03-04 09:00Z", "resolved");
    s.set_status(a, "2026-03-04 10:00Z", "resolved");

    // DMs: alice and Mia on the 2nd (2 user messages, 1 persona answer), alice and bob on the 3rd.
    let (lo, hi) = (alice.min(bob), alice.max(bob));
    let persona_dm = s.next_id("direct_messages");
    let user_dm = s.next_id("direct_messages");
    s.sql(&format!(
        "INSERT INTO direct_messages (id, conversation_type, user1_id, user2_type, fake_user_id, created_at)
         VALUES ({persona_dm}, 'user_dm', {alice}, 'fake_user', {mia}, '2026-03-02 08:00Z');
         INSERT INTO direct_messages (id, conversation_type, user1_id, user2_id, user2_type, created_at)
         VALUES ({user_dm}, 'user_dm', {lo}, {hi}, 'real_user', '2026-03-03 08:00Z');"
    ));
    s.message(persona_dm, "2026-03-02 08:01Z", "user1_id, 'real_user', NULL", "");
    s.message(persona_dm, "2026-03-02 08:02Z", "user1_id, 'real_user', NULL", "");
    s.message(persona_dm, "2026-03-02 08:03Z", &format!("{mia}, 'fake_user', {ada}"), "");
    s.message(user_dm, "2026-03-03 08:01Z", &format!("{alice}, 'real_user', NULL"), "");
    s.message(user_dm, "2026-03-03 08:02Z", &format!("{alice}, 'real_user', NULL"), "");
    s.message(user_dm, "2026-03-03 08:03Z", &format!("{bob}, 'real_user', NULL"), "");

    // A notice to alice and bob on the 2nd, read by alice.
    let notice =
        app.post("/api/admin/chat/notifications", &ada_token, json!({"userIds": [alice, bob], "content": "Hi"})).await;
    assert_eq!(notice.status, 201);
    let notice = notice.json()["id"].as_i64().unwrap();
    s.sql(&format!(
        "UPDATE chat_notifications SET created_at = '2026-03-02 12:00Z' WHERE id = {notice};
         INSERT INTO chat_group_reads (group_id, user_id, last_read_message_id)
         SELECT m.group_id, {alice}, m.id FROM chat_messages m JOIN chat_groups g ON g.id = m.group_id
          WHERE m.notification_id = {notice} AND g.owner_user_id = {alice};"
    ));

    // Every figure, by day.
    let days = stats(&app, &ada_token, &format!("{STATS}?from=2026-03-02&to=2026-03-05&bucket=day")).await;
    assert_eq!(days["range"], json!({"from": "2026-03-02", "to": "2026-03-05", "bucket": "day"}));
    let starts: Vec<&Value> = days["buckets"].as_array().unwrap().iter().map(|b| &b["start"]).collect();
    assert_eq!(
        starts,
        [&json!("2026-03-02T00:00:00Z"), &json!("2026-03-03T00:00:00Z"), &json!("2026-03-04T00:00:00Z")]
    );
    assert_eq!(
        support_figures(&days["buckets"]),
        [
            json!([3, 0, 1, 3, [2, 600.0, 7200.0], [1, 7200.0, 7200.0]]),
            json!([2, 1, 1, 4, [2, 1800.0, 7200.0], [1, 93600.0, 93600.0]]),
            json!([0, 0, 2, 2, none(), [2, 86400.0, 90000.0]]),
        ]
    );
    let dms: Vec<&Value> = days["buckets"].as_array().unwrap().iter().map(|b| &b["directMessages"]).collect();
    assert_eq!(
        dms,
        [
            &json!({"newUserDms": 0, "newPersonaDms": 1, "activeUsers": 1, "userToUserMessages": 0,
                    "userToPersonaMessages": 2, "personaToUserMessages": 1}),
            &json!({"newUserDms": 1, "newPersonaDms": 0, "activeUsers": 2, "userToUserMessages": 3,
                    "userToPersonaMessages": 0, "personaToUserMessages": 0}),
            &json!({"newUserDms": 0, "newPersonaDms": 0, "activeUsers": 0, "userToUserMessages": 0,
                    "userToPersonaMessages": 0, "personaToUserMessages": 0}),
        ]
    );
    // Nobody was online: no live delivery.
    let offline =
        json!({"onlineDeliveries": 0, "lastOnlineDelivery": {"count": 0, "p50Seconds": null, "p90Seconds": null}});
    let notices = |sent, reach, read, rate: Value| {
        let mut figures = json!({"sent": sent, "reach": reach, "read": read, "readRate": rate});
        figures.as_object_mut().unwrap().extend(offline.as_object().unwrap().clone());
        figures
    };
    assert_eq!(days["buckets"][0]["notices"], notices(1, 2, 1, json!(0.5)));
    assert_eq!(days["buckets"][1]["notices"], notices(0, 0, 0, Value::Null));
    assert_eq!(days["privacy"]["refusedEvents"], 0);
    // Closed buckets were stored by that first read; reading them back gives the same.
    let stored = "SELECT count(*) AS n FROM chat_stats_support_buckets";
    assert_eq!(app.db.count(stored), 3);
    let again = stats(&app, &ada_token, &format!("{STATS}?from=2026-03-02&to=2026-03-05&bucket=day")).await;
    assert_eq!(again["buckets"], days["buckets"]);
    // The housekeeping stores every closed day and week of the last year ahead of time
    // (the history lies in it); reports then read the same figures.
    chat_server::store_stats(&app.state.store, None).await;
    let year = (366 + 52).to_string();
    assert_eq!(app.db.count(stored).to_string(), year);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_stats_dm_buckets WHERE persona_id = 0").to_string(), year);
    let again = stats(&app, &ada_token, &format!("{STATS}?from=2026-03-02&to=2026-03-05&bucket=day")).await;
    assert_eq!(again["buckets"], days["buckets"]);

    // The same week as one bucket: nearest-rank percentiles over all four of each.
    let week = stats(&app, &ada_token, &format!("{STATS}?from=2026-03-02&to=2026-03-09&bucket=week")).await;
    assert_eq!(support_figures(&week["buckets"]), [json!([5, 1, 4, 2, [4, 1800.0, 7200.0], [4, 86400.0, 93600.0]])]);
    assert_eq!(week["buckets"][0]["directMessages"]["activeUsers"], 2, "alice counts once in the week");
    let persona_rows = format!("SELECT count(*) AS n FROM chat_stats_dm_buckets WHERE persona_id = {mia}");
    assert_eq!(app.db.count(&persona_rows), 2, "Mia's DMs on the 2nd and in its week");

    // Per responder: Sam (A1, C1), Mia (B1), the team (A2), unanswered (E, D1).
    let by_persona = stats(&app, &ada_token, &format!("{STATS}/personas?from=2026-03-02&to=2026-03-05")).await;
    let groups = by_persona["groups"].as_array().unwrap();
    let keys: Vec<Value> = groups.iter().map(|g| json!([g["responder"], g["personaId"]])).collect();
    assert_eq!(
        keys,
        [json!(["persona", sam]), json!(["persona", mia]), json!(["team", null]), json!(["unanswered", null])]
    );
    assert_eq!(
        support_figures(&groups[0]["buckets"]),
        [
            json!([2, 0, 1, 1, [1, 600.0, 600.0], [1, 7200.0, 7200.0]]),
            json!([0, 0, 0, 1, [1, 7200.0, 7200.0], none()]),
            json!([0, 0, 0, 1, none(), none()]),
        ]
    );
    assert_eq!(
        support_figures(&groups[1]["buckets"]),
        [
            json!([1, 0, 0, 1, [1, 7200.0, 7200.0], none()]),
            json!([0, 0, 1, 0, none(), [1, 93600.0, 93600.0]]),
            json!([0, 0, 0, 0, none(), none()]),
        ]
    );
    assert_eq!(
        groups[1]["buckets"][0]["personaDms"],
        json!({"newDms": 1, "activeUsers": 1, "userMessages": 2, "personaMessages": 1})
    );
    assert_eq!(
        groups[0]["buckets"][0]["personaDms"],
        json!({"newDms": 0, "activeUsers": 0, "userMessages": 0, "personaMessages": 0})
    );
    assert_eq!(
        support_figures(&groups[2]["buckets"]),
        [
            json!([0, 0, 0, 0, none(), none()]),
            json!([1, 1, 0, 1, [1, 1800.0, 1800.0], none()]),
            json!([0, 0, 1, 0, none(), [1, 86400.0, 86400.0]]),
        ]
    );
    assert_eq!(groups[2]["buckets"][0]["personaDms"], Value::Null);
    assert_eq!(
        support_figures(&groups[3]["buckets"]),
        [
            json!([0, 0, 0, 1, none(), none()]),
            json!([1, 0, 0, 2, none(), none()]),
            json!([0, 0, 1, 1, none(), [1, 90000.0, 90000.0]]),
        ]
    );

    // Per assignee: ada (A1, A2, D1), ben (C1), unassigned (E, B1).
    let by_assignee = stats(&app, &ada_token, &format!("{STATS}/assignees?from=2026-03-02&to=2026-03-05")).await;
    let groups = by_assignee["groups"].as_array().unwrap();
    let keys: Vec<&Value> = groups.iter().map(|g| &g["assigneeId"]).collect();
    assert_eq!(keys, [&json!(ada), &json!(ben), &Value::Null]);
    assert_eq!(
        support_figures(&groups[0]["buckets"]),
        [
            json!([1, 0, 1, 0, [1, 600.0, 600.0], [1, 7200.0, 7200.0]]),
            json!([2, 1, 0, 2, [1, 1800.0, 1800.0], none()]),
            json!([0, 0, 2, 0, none(), [2, 86400.0, 90000.0]]),
        ]
    );
    assert_eq!(
        support_figures(&groups[1]["buckets"]),
        [
            json!([1, 0, 0, 1, none(), none()]),
            json!([0, 0, 0, 1, [1, 7200.0, 7200.0], none()]),
            json!([0, 0, 0, 1, none(), none()]),
        ]
    );
    assert_eq!(
        support_figures(&groups[2]["buckets"]),
        [
            json!([1, 0, 0, 2, [1, 7200.0, 7200.0], none()]),
            json!([0, 0, 1, 1, none(), [1, 93600.0, 93600.0]]),
            json!([0, 0, 0, 1, none(), none()]),
        ]
    );
}

/// Stored buckets stay right when an episode changes after its bucket closed: a
/// reassignment counts from its own time (the opening stays with the assignee at the
/// start), and a bucket per responder is stored only once the voice of each of its
/// episodes is known. Each step is read after the buckets before it were stored.
#[tokio::test]
async fn changes_after_a_bucket_closed_keep_its_stored_figures_true() {
    let app = TestApp::spawn().await;
    let (ada, ada_token) = app.admin("ada");
    let sam = persona(&app, &ada_token, "Sam").await;
    let (alice, _) = app.user("alice");
    let mut s = Script { conn: app.db.conn() };
    let grouped = |by: &str, day: &str| {
        format!(
            "SELECT count(*) AS n FROM chat_stats_support_grouped
              WHERE grouped_by = '{by}' AND bucket_start = '{day}Z' AND bucket_end = '{day}Z'::timestamptz + interval '1 day'"
        )
    };

    // Monday the 2nd, 10:00: alice writes, nobody assigned. Both reports read the 2nd.
    let c = s.support(alice, sam, None);
    s.user_says(c, "2026-03-02 10:00Z");
    let first = format!("{STATS}/assignees?from=2026-03-02&to=2026-03-03");
    let groups = stats(&app, &ada_token, &first).await["groups"].clone();
    assert_eq!(groups[0]["assigneeId"], Value::Null);
    assert_eq!(support_figures(&groups[0]["buckets"]), [json!([1, 0, 0, 1, none(), none()])]);
    assert_eq!(app.db.count(&grouped("assignee", "2026-03-02")), 1, "the closed day is stored per assignee");
    let first = stats(&app, &ada_token, &format!("{STATS}/personas?from=2026-03-02&to=2026-03-03")).await;
    assert_eq!(first["groups"][0]["responder"], "unanswered");
    assert_eq!(app.db.count(&grouped("responder", "2026-03-02")), 0, "not settled: its responder is not known");

    // Wednesday: ada takes it at 10:00 and answers as Sam at 11:00; resolved Thursday 09:00.
    s.assign(c, "2026-03-04 10:00Z", Some(ada));
    s.persona_answers(c, "2026-03-04 11:00Z", sam, ada);
    s.set_status(c, "2026-03-05 09:00Z", "resolved");

    let range = "from=2026-03-02&to=2026-03-06";
    let by_assignee = stats(&app, &ada_token, &format!("{STATS}/assignees?{range}")).await;
    let groups = by_assignee["groups"].as_array().unwrap();
    assert_eq!(groups.iter().map(|g| &g["assigneeId"]).collect::<Vec<_>>(), [&json!(ada), &Value::Null]);
    // ada: moved in on the 4th, answered then (49 h after the start), resolved on the 5th (71 h).
    assert_eq!(
        support_figures(&groups[0]["buckets"]),
        [
            json!([0, 0, 0, 0, none(), none()]),
            json!([0, 0, 0, 0, none(), none()]),
            json!([0, 0, 0, 1, [1, 176_400.0, 176_400.0], none()]),
            json!([0, 0, 1, 0, none(), [1, 255_600.0, 255_600.0]]),
        ]
    );
    // Unassigned: the opening stays where it was, and the episode leaves on the 4th.
    assert_eq!(
        support_figures(&groups[1]["buckets"]),
        [
            json!([1, 0, 0, 1, none(), none()]),
            json!([0, 0, 0, 1, none(), none()]),
            json!([0, 0, 0, 0, none(), none()]),
            json!([0, 0, 0, 0, none(), none()]),
        ]
    );
    // Every day is stored now, and reading them back gives the same.
    for day in ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"] {
        assert_eq!(app.db.count(&grouped("assignee", day)), 1, "{day}");
    }
    let again = stats(&app, &ada_token, &format!("{STATS}/assignees?{range}")).await;
    assert_eq!(again["groups"], by_assignee["groups"]);

    // Per responder the 2nd is settled now: the episode is Sam's from its start.
    let by_persona = stats(&app, &ada_token, &format!("{STATS}/personas?{range}")).await;
    let groups = by_persona["groups"].as_array().unwrap();
    assert_eq!(groups.iter().map(|g| &g["personaId"]).collect::<Vec<_>>(), [&json!(sam)]);
    assert_eq!(
        support_figures(&groups[0]["buckets"]),
        [
            json!([1, 0, 0, 1, none(), none()]),
            json!([0, 0, 0, 1, none(), none()]),
            json!([0, 0, 0, 1, [1, 176_400.0, 176_400.0], none()]),
            json!([0, 0, 1, 0, none(), [1, 255_600.0, 255_600.0]]),
        ]
    );
    assert_eq!(app.db.count(&grouped("responder", "2026-03-02")), 1);
    let again = stats(&app, &ada_token, &format!("{STATS}/personas?{range}")).await;
    assert_eq!(again["groups"], by_persona["groups"]);

    // The overview's backlog is the sum of the groups'.
    let overview = stats(&app, &ada_token, &format!("{STATS}?{range}")).await;
    let backlog: Vec<&Value> =
        overview["buckets"].as_array().unwrap().iter().map(|b| &b["support"]["backlog"]).collect();
    assert_eq!(backlog, [&json!(1), &json!(1), &json!(1), &json!(0)]);
}

/// With `CHAT_SUPPORT_HOURS_UTC` set (08:00-18:00), durations count only the time inside
/// support hours, in every view, and figures stored without it are never read:
///
/// | episode | start | first response | resolved |
/// |---|---|---|---|
/// | A | Mon 17:00 | Tue 09:00 Sam (1 h + 1 h: 7,200 s; 57,600 s of wall-clock time) | Tue 10:00 (10,800 s) |
/// | B | Mon 20:00 (outside) | Tue 08:30 Sam (1,800 s) | Tue 08:45 (2,700 s) |
/// | C | Tue 09:00 | Tue 09:10 Sam (600 s) | - |
#[tokio::test]
async fn support_hours_count_only_the_time_inside_them() {
    let hours = chat_domain::support::SupportHours::parse("08:00-18:00").unwrap();
    let support = chat_domain::support::SupportSettings { hours: Some(hours), ..Default::default() };
    let app = TestApp::spawn_configured(chat_api::ApiSettings { support, ..Default::default() }).await;
    let (ada, ada_token) = app.admin("ada");
    let sam = persona(&app, &ada_token, "Sam").await;
    let (alice, _) = app.user("alice");
    let (bob, _) = app.user("bob");
    let (carol, _) = app.user("carol");
    let mut s = Script { conn: app.db.conn() };
    let (a, b, c) = (s.support(alice, sam, None), s.support(bob, sam, None), s.support(carol, sam, None));
    s.user_says(a, "2026-03-02 17:00Z");
    s.user_says(b, "2026-03-02 20:00Z");
    s.persona_answers(b, "2026-03-03 08:30Z", sam, ada);
    s.set_status(b, "2026-03-03 08:45Z", "resolved");
    s.persona_answers(a, "2026-03-03 09:00Z", sam, ada);
    s.user_says(c, "2026-03-03 09:00Z");
    s.persona_answers(c, "2026-03-03 09:10Z", sam, ada);
    s.set_status(a, "2026-03-03 10:00Z", "resolved");

    // Wall-clock figures stored first (as an instance without the setting would) are
    // not what this instance reads.
    let days: Vec<Period> = ["2026-03-02", "2026-03-03"]
        .iter()
        .map(|d| {
            let start = format!("{d}T00:00:00Z").parse::<chrono::DateTime<chrono::Utc>>().unwrap();
            Period { start, end: start + chrono::Duration::days(1) }
        })
        .collect();
    let stored = app.state.store.run(move |tx| tx.store_buckets(&days, 10, None)).await.unwrap();
    assert_eq!(stored.len(), 2);
    let wall = "SELECT count(*) AS n FROM chat_stats_support_buckets
                 WHERE hours_utc = '' AND bucket_start = '2026-03-03Z' AND bucket_end = '2026-03-04Z' AND fr90 = 57600";
    assert_eq!(app.db.count(wall), 1);

    let days = stats(&app, &ada_token, &format!("{STATS}?from=2026-03-02&to=2026-03-04")).await;
    assert_eq!(days["supportHoursUtc"], "08:00-18:00");
    let tuesday = json!([1, 0, 2, 1, [3, 1800.0, 7200.0], [2, 2700.0, 10800.0]]);
    assert_eq!(support_figures(&days["buckets"]), [json!([2, 0, 0, 2, none(), none()]), tuesday.clone()]);
    let stored = "SELECT count(*) AS n FROM chat_stats_support_buckets
                   WHERE hours_utc = '08:00-18:00' AND bucket_start = '2026-03-03Z' AND fr90 = 7200";
    assert_eq!(app.db.count(stored), 1, "stored apart from the wall-clock figures");
    let again = stats(&app, &ada_token, &format!("{STATS}?from=2026-03-02&to=2026-03-04")).await;
    assert_eq!(again["buckets"], days["buckets"]);

    let week = stats(&app, &ada_token, &format!("{STATS}?from=2026-03-02&to=2026-03-09&bucket=week")).await;
    assert_eq!(support_figures(&week["buckets"]), [json!([3, 0, 2, 1, [3, 1800.0, 7200.0], [2, 2700.0, 10800.0]])]);

    for view in ["personas", "assignees"] {
        let body = stats(&app, &ada_token, &format!("{STATS}/{view}?from=2026-03-02&to=2026-03-04")).await;
        assert_eq!(body["supportHoursUtc"], "08:00-18:00", "{view}");
        let groups = body["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 1, "{view}: all Sam's, all unassigned");
        assert_eq!(support_figures(&groups[0]["buckets"])[1], tuesday, "{view}");
    }
}

/// The real send path and lifecycle routes feed the episodes: a user writes, an admin
/// answers as a persona, the user writes again, the admin resolves it, the user reopens.
#[tokio::test]
async fn the_send_path_records_episodes() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let sam = persona(&app, &admin, "Sam").await;
    let (_, alice) = app.user("alice");
    let say = |content: &'static str| {
        let (app, alice) = (&app, &alice);
        async move {
            let reply = app.post("/api/user/chat/support/messages", alice, json!({"content": content})).await;
            assert_eq!(reply.status, 201);
            reply.json()["conversationId"].as_i64().unwrap()
        }
    };
    let c = say("help").await;
    let answer = app
        .post(&format!("/api/admin/chat/support/{c}/messages"), &admin, json!({"content": "sure", "personaId": sam}))
        .await;
    assert_eq!(answer.status, 201);
    say("thanks").await;
    let resolved = app.patch(&format!("/api/admin/chat/support/{c}"), &admin, json!({"status": "resolved"})).await;
    assert_eq!(resolved.status, 200);
    say("one more thing").await;

    let row = |sql: &str| app.db.count(sql);
    assert_eq!(row("SELECT count(*) AS n FROM chat_support_episodes"), 2);
    assert_eq!(
        row(&format!(
            "SELECT count(*) AS n FROM chat_support_episodes
              WHERE NOT reopened AND first_response_voice = 'persona' AND first_response_persona_id = {sam}
                AND resolved_at IS NOT NULL AND first_response_at > started_at AND resolved_at > first_response_at"
        )),
        1
    );
    assert_eq!(
        row(
            "SELECT count(*) AS n FROM chat_support_episodes WHERE reopened AND resolved_at IS NULL AND first_response_at IS NULL"
        ),
        1
    );

    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let body = stats(&app, &admin, &format!("{STATS}?from={today}&to={tomorrow}")).await;
    let s = &body["buckets"][0]["support"];
    assert_eq!(json!([s["opened"], s["reopened"], s["resolved"], s["backlog"]]), json!([2, 1, 1, 1]));
    assert_eq!(s["firstResponse"]["count"], 1);
}

/// A support conversation created with its user already waiting (as the legacy support
/// migration creates them) starts its episode at that wait; one created idle does not.
#[tokio::test]
async fn a_conversation_created_waiting_starts_an_episode() {
    let app = TestApp::spawn().await;
    let (alice, _) = app.user("alice");
    let (bob, _) = app.user("bob");
    let mut s = Script { conn: app.db.conn() };
    s.sql(&format!(
        "INSERT INTO direct_messages (conversation_type, user1_id, user2_type, support_status, waiting_since)
         VALUES ('support', {alice}, 'support', 'open', '2026-03-02 09:00Z'),
                ('support', {bob}, 'support', 'open', NULL)"
    ));
    let started =
        "SELECT count(*) AS n FROM chat_support_episodes WHERE started_at = '2026-03-02 09:00Z' AND NOT reopened";
    assert_eq!(app.db.count(started), 1);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_support_episodes"), 1);
}

/// A notice's live delivery over real sockets: the frames handed to the online
/// recipients' sockets are counted and the last one timed; an offline recipient counts
/// for nothing, and a notice nobody was online for has no delivery time.
#[tokio::test]
async fn a_notice_records_when_it_reached_its_last_online_recipient() {
    const WAIT: Duration = Duration::from_secs(10);
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (alice, alice_token) = app.user("alice");
    let (bob, bob_token) = app.user("bob");
    let (carol, _) = app.user("carol");
    let mut alice_ws = WsClient::connect(&app, &alice_token).await;
    let mut bob_ws = WsClient::connect(&app, &bob_token).await;
    // An admin online, not an audience of these notices: their socket counts for nothing.
    let ada_ws = WsClient::connect(&app, &ada).await;

    let sent =
        app.post("/api/admin/chat/notifications", &ada, json!({"userIds": [alice, bob, carol], "content": "Hi"})).await;
    assert_eq!(sent.status, 201);
    let notice = sent.json()["id"].as_i64().unwrap();
    for ws in [&mut alice_ws, &mut bob_ws] {
        assert_eq!(ws.until(WAIT, |f| f["type"] == "admin-notification").await["notificationId"], notice);
    }
    // Carol has no socket.
    let offline =
        app.post("/api/admin/chat/notifications", &ada, json!({"userIds": [carol], "content": "Only carol"})).await;
    assert_eq!(offline.status, 201);

    // The housekeeping round writes what the sockets counted.
    chat_server::record_notice_deliveries(&app.state.store, app.state.hub.notice_deliveries()).await;
    let recorded = format!(
        "SELECT count(*) AS n FROM chat_notice_deliveries d JOIN chat_notifications n ON n.id = d.notification_id
          WHERE d.notification_id = {notice} AND d.online_deliveries = 2
            AND d.last_online_delivery_at >= n.created_at AND d.last_online_delivery_at < now() + interval '1 minute'"
    );
    assert_eq!(app.db.count(&recorded), 1);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_notice_deliveries"), 1, "only the notice with sockets");

    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let body = stats(&app, &ada, &format!("{STATS}?from={today}&to={tomorrow}")).await;
    let notices = &body["buckets"][0]["notices"];
    assert_eq!(json!([notices["sent"], notices["reach"], notices["onlineDeliveries"]]), json!([2, 4, 2]));
    let delivery = &notices["lastOnlineDelivery"];
    assert_eq!(delivery["count"], 1);
    let p50 = delivery["p50Seconds"].as_f64().unwrap();
    assert!((0.0..60.0).contains(&p50), "{delivery}");
    assert_eq!(delivery["p90Seconds"], delivery["p50Seconds"]);

    // Nothing new: a second round adds nothing.
    chat_server::record_notice_deliveries(&app.state.store, app.state.hub.notice_deliveries()).await;
    assert_eq!(app.db.count(&recorded), 1);
    drop(ada_ws);
}

#[tokio::test]
async fn users_get_403_on_every_stats_route() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user("alice");
    for path in [STATS, "/api/admin/chat/stats/personas", "/api/admin/chat/stats/assignees"] {
        let reply = app.get(&format!("{path}?from=2026-03-02&to=2026-03-03"), &alice).await;
        assert_eq!((reply.status, reply.code()), (403, Some("admin_only".to_owned())), "{path}");
        // Before the query is read: a user learns nothing from a bad range either.
        let reply = app.get(&format!("{path}?from=x"), &alice).await;
        assert_eq!(reply.status, 403, "{path}");
    }
}

#[tokio::test]
async fn bad_ranges_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    for (query, field, code) in [
        ("to=2026-03-03", "from", None),
        ("from=2026-03-02", "to", None),
        ("from=2026-13-02&to=2026-03-03", "from", None),
        ("from=2026-03-02&to=2026-03-03&bucket=month", "bucket", None),
        ("from=2026-03-02&to=2026-03-03&groupBy=persona", "groupBy", Some("unknown_field")),
        ("from=2026-03-03&to=2026-03-03", "to", Some("empty_range")),
        ("from=2026-03-04&to=2026-03-03", "to", Some("empty_range")),
        ("from=2025-01-01&to=2026-01-03", "to", Some("range_too_long")),
        ("from=2026-03-03&to=2026-03-09&bucket=week", "from", Some("not_a_monday")),
        ("from=2026-03-02&to=2026-03-10&bucket=week", "to", Some("not_a_monday")),
    ] {
        let reply = app.get(&format!("{STATS}?{query}"), &admin).await;
        assert_eq!(reply.status, 422, "{query}: {}", reply.json());
        assert_eq!(reply.header("content-type"), Some("application/problem+json"), "{query}");
        let error = &reply.json()["errors"][0];
        assert_eq!(error["field"], field, "{query}: {}", reply.json());
        if let Some(code) = code {
            assert_eq!(error["code"], code, "{query}");
        }
    }
}

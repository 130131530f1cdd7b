//! Message rows: the one SELECT list every message read uses, and its mapping.

use chat_domain::access::Author;
use chat_domain::conversations::{Message, MessageKind};
use chat_domain::{ConversationId, MessageId, PersonaId, RepoError, UserId};
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

/// Columns of a message with its sender's names, from `dm_messages m`. Pair with
/// [`MESSAGE_JOINS`].
pub(crate) const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.seq, m.sender_id, m.sender_type, m.acting_admin_id, \
     m.content, m.message_type, m.client_message_id, m.created_at, (m.hidden_at IS NOT NULL) AS hidden, \
     CASE m.sender_type WHEN 'real_user' THEN su.display_name WHEN 'fake_user' THEN sp.name END AS sender_name, \
     sa.display_name AS acting_admin_name";

/// The joins [`MESSAGE_COLUMNS`] needs.
pub(crate) const MESSAGE_JOINS: &str = "LEFT JOIN users su ON m.sender_type = 'real_user' AND su.id = m.sender_id \
     LEFT JOIN chat_fake_users sp ON m.sender_type = 'fake_user' AND sp.id = m.sender_id \
     LEFT JOIN users sa ON sa.id = m.acting_admin_id";

#[derive(QueryableByName)]
pub(crate) struct MessageRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    conversation_id: i64,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Int4)]
    sender_id: i32,
    #[diesel(sql_type = Text)]
    sender_type: String,
    #[diesel(sql_type = Nullable<Int4>)]
    acting_admin_id: Option<i32>,
    #[diesel(sql_type = Text)]
    content: String,
    #[diesel(sql_type = Text)]
    message_type: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    client_message_id: Option<Uuid>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    hidden: bool,
    #[diesel(sql_type = Nullable<Text>)]
    sender_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    acting_admin_name: Option<String>,
}

/// The stored form of an author: `(sender_type, sender_id, acting_admin_id)`.
pub(crate) fn author_columns(author: &Author) -> (&'static str, i32, Option<i32>) {
    match *author {
        Author::User(user) => ("real_user", user.get(), None),
        Author::Persona { persona, admin } => ("fake_user", persona.get(), Some(admin.get())),
        Author::Team { admin } => ("admin", admin.get(), Some(admin.get())),
        // Only moved history carries this author; the acting-admin CHECK refuses to store
        // it as a new message (no legacy_message_id), so the team's sender id is moot.
        Author::Imported { persona: Some(persona) } => ("fake_user", persona.get(), None),
        Author::Imported { persona: None } => ("admin", 0, None),
    }
}

/// Maps the stored author back. A staff message without an acting admin exists only as
/// history moved from the group-based support (the CHECK on `dm_messages` allows it only
/// for rows with a `legacy_message_id`): it becomes [`Author::Imported`].
pub(crate) fn author_from_columns(sender_type: &str, sender_id: i32, acting: Option<i32>) -> Result<Author, RepoError> {
    Ok(match (sender_type, acting) {
        ("real_user", _) => Author::User(UserId(sender_id)),
        ("fake_user", Some(admin)) => Author::Persona { persona: PersonaId(sender_id), admin: UserId(admin) },
        ("fake_user", None) => Author::Imported { persona: Some(PersonaId(sender_id)) },
        ("admin", Some(admin)) => Author::Team { admin: UserId(admin) },
        ("admin", None) => Author::Imported { persona: None },
        (other, _) => return Err(RepoError::internal(format!("unknown sender_type {other:?}"))),
    })
}

impl TryFrom<MessageRow> for Message {
    type Error = RepoError;

    fn try_from(row: MessageRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: MessageId(row.id),
            conversation_id: ConversationId(row.conversation_id),
            seq: row.seq,
            author: author_from_columns(&row.sender_type, row.sender_id, row.acting_admin_id)?,
            sender_name: row.sender_name,
            acting_admin_name: row.acting_admin_name,
            kind: MessageKind::from_db(&row.message_type)
                .ok_or_else(|| RepoError::internal(format!("unknown message_type {:?}", row.message_type)))?,
            content: row.content,
            client_message_id: row.client_message_id,
            created_at: row.created_at,
            hidden: row.hidden,
        })
    }
}

/// Maps loaded rows.
pub(crate) fn into_messages(rows: Vec<MessageRow>) -> Result<Vec<Message>, RepoError> {
    rows.into_iter().map(Message::try_from).collect()
}

/// Columns of a conversation's last message (`lm`), with its sender's names. Pair with
/// [`LAST_MESSAGE_JOINS`] on a query over `direct_messages d`.
pub(crate) const LAST_MESSAGE_COLUMNS: &str = "lm.id AS lm_id, lm.seq AS lm_seq, lm.sender_id AS lm_sender_id, \
     lm.sender_type AS lm_sender_type, lm.acting_admin_id AS lm_acting_admin_id, lm.content AS lm_content, \
     lm.message_type AS lm_message_type, lm.client_message_id AS lm_client_id, lm.created_at AS lm_created_at, \
     (lm.hidden_at IS NOT NULL) AS lm_hidden, \
     CASE lm.sender_type \
       WHEN 'real_user' THEN (SELECT lmu.display_name FROM users lmu WHERE lmu.id = lm.sender_id) \
       WHEN 'fake_user' THEN (SELECT lmp.name FROM chat_fake_users lmp WHERE lmp.id = lm.sender_id) \
     END AS lm_sender_name, \
     (SELECT lma.display_name FROM users lma WHERE lma.id = lm.acting_admin_id) AS lm_acting_admin_name";

/// The join [`LAST_MESSAGE_COLUMNS`] needs. The names are looked up in subqueries rather
/// than joined: the lists and the queue are planned on every request (their generic
/// plans are poor, bench/pgbench/README.md), and every relation more in a join makes
/// the planner's search much longer. On the bench seed, the DM list's names by join
/// planned in 7.4 ms and ran in 0.9; by subquery (these and the views' own) pgbench
/// runs the list 4.1x and the queue 5x as often (the rows and their order are the same).
pub(crate) const LAST_MESSAGE_JOINS: &str = "LEFT JOIN dm_messages lm ON lm.id = d.last_message_id";

/// A conversation's last message, all columns nullable (no message yet).
#[derive(QueryableByName)]
pub(crate) struct LastMessageRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    lm_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    lm_seq: Option<i64>,
    #[diesel(sql_type = Nullable<Int4>)]
    lm_sender_id: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    lm_sender_type: Option<String>,
    #[diesel(sql_type = Nullable<Int4>)]
    lm_acting_admin_id: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    lm_content: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    lm_message_type: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    lm_client_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    lm_created_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Bool>)]
    lm_hidden: Option<bool>,
    #[diesel(sql_type = Nullable<Text>)]
    lm_sender_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    lm_acting_admin_name: Option<String>,
}

impl LastMessageRow {
    /// The message, if the conversation has one.
    pub(crate) fn into_message(self, conversation: ConversationId) -> Result<Option<Message>, RepoError> {
        let (Some(id), Some(sender_id), Some(sender_type), Some(content), Some(kind), Some(created_at)) = (
            self.lm_id,
            self.lm_sender_id,
            self.lm_sender_type,
            self.lm_content,
            self.lm_message_type,
            self.lm_created_at,
        ) else {
            return Ok(None);
        };
        Ok(Some(Message {
            id: MessageId(id),
            conversation_id: conversation,
            seq: self.lm_seq.unwrap_or_default(),
            author: author_from_columns(&sender_type, sender_id, self.lm_acting_admin_id)?,
            sender_name: self.lm_sender_name,
            acting_admin_name: self.lm_acting_admin_name,
            kind: MessageKind::from_db(&kind)
                .ok_or_else(|| RepoError::internal(format!("unknown message_type {kind:?}")))?,
            content,
            client_message_id: self.lm_client_id,
            created_at,
            hidden: self.lm_hidden.unwrap_or(false),
        }))
    }
}

//! [`PersonaRepository`] on `chat_fake_users`.

use chat_domain::personas::{NewPersona, Persona, PersonaPatch, PersonaRepository};
use chat_domain::{PersonaId, RepoError};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::OrRepoError;

/// Advisory lock key serializing changes to the set of active support agents.
const SUPPORT_AGENTS_LOCK: i64 = 0x7375_7070_6f72_7401;

diesel::define_sql_function! {
    /// `pg_advisory_xact_lock(key)`: held until the transaction ends.
    fn pg_advisory_xact_lock(key: diesel::sql_types::BigInt);
}
use crate::schema::chat_fake_users;
use crate::tx::PgTx;

#[derive(Queryable, Selectable)]
#[diesel(table_name = chat_fake_users, check_for_backend(diesel::pg::Pg))]
struct PersonaRow {
    id: i32,
    name: String,
    avatar_url: Option<String>,
    bio: Option<String>,
    dm_enabled: bool,
    is_support_agent: bool,
    is_active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<PersonaRow> for Persona {
    fn from(row: PersonaRow) -> Self {
        Self {
            id: PersonaId(row.id),
            name: row.name,
            avatar_url: row.avatar_url,
            bio: row.bio,
            dm_enabled: row.dm_enabled,
            is_support_agent: row.is_support_agent,
            is_active: row.is_active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = chat_fake_users)]
struct NewPersonaRow<'a> {
    name: &'a str,
    avatar_url: Option<&'a str>,
    bio: Option<&'a str>,
    dm_enabled: bool,
    is_support_agent: bool,
}

#[derive(AsChangeset)]
#[diesel(table_name = chat_fake_users)]
struct PersonaChanges<'a> {
    name: Option<&'a str>,
    avatar_url: Option<Option<&'a str>>,
    bio: Option<Option<&'a str>>,
    dm_enabled: Option<bool>,
    is_support_agent: Option<bool>,
    is_active: Option<bool>,
    updated_at: DateTime<Utc>,
}

impl PersonaRepository for PgTx<'_> {
    fn list_personas(&mut self) -> Result<Vec<Persona>, RepoError> {
        let rows = chat_fake_users::table
            .order(chat_fake_users::id)
            .select(PersonaRow::as_select())
            .load(self.conn())
            .or_repo()?;
        Ok(rows.into_iter().map(Persona::from).collect())
    }

    fn find_persona(&mut self, id: PersonaId) -> Result<Option<Persona>, RepoError> {
        chat_fake_users::table
            .find(id.get())
            .select(PersonaRow::as_select())
            .for_update()
            .first(self.conn())
            .optional()
            .map(|row| row.map(Persona::from))
            .or_repo()
    }

    fn insert_persona(&mut self, new: &NewPersona) -> Result<Persona, RepoError> {
        let row = NewPersonaRow {
            name: new.name.as_str(),
            avatar_url: new.avatar_url.as_ref().map(|u| u.as_str()),
            bio: new.bio.as_ref().map(|b| b.as_str()),
            dm_enabled: new.dm_enabled,
            is_support_agent: new.is_support_agent,
        };
        diesel::insert_into(chat_fake_users::table)
            .values(&row)
            .returning(PersonaRow::as_returning())
            .get_result(self.conn())
            .map(Persona::from)
            .or_repo()
    }

    fn update_persona(&mut self, id: PersonaId, patch: &PersonaPatch) -> Result<Option<Persona>, RepoError> {
        let changes = PersonaChanges {
            name: patch.name.as_ref().map(|n| n.as_str()),
            avatar_url: patch.avatar_url.as_ref().map(|u| u.as_ref().map(|u| u.as_str())),
            bio: patch.bio.as_ref().map(|b| b.as_ref().map(|b| b.as_str())),
            dm_enabled: patch.dm_enabled,
            is_support_agent: patch.is_support_agent,
            is_active: patch.is_active,
            updated_at: Utc::now(),
        };
        diesel::update(chat_fake_users::table.find(id.get()))
            .set(&changes)
            .returning(PersonaRow::as_returning())
            .get_result(self.conn())
            .optional()
            .map(|row| row.map(Persona::from))
            .or_repo()
    }

    fn count_active_support_agents(&mut self) -> Result<i64, RepoError> {
        // Serializes every "is this the last agent?" decision until commit. A lock on
        // the agent rows themselves would deadlock against the row lock that
        // `find_persona` already holds in a concurrent transaction.
        diesel::select(pg_advisory_xact_lock(SUPPORT_AGENTS_LOCK)).execute(self.conn()).or_repo()?;
        chat_fake_users::table
            .filter(chat_fake_users::is_active.and(chat_fake_users::is_support_agent))
            .count()
            .get_result(self.conn())
            .or_repo()
    }
}

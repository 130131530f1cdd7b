//! [`UserDirectory`] on the existing app's `users` table (read only).

use chat_domain::users::UserDirectory;
use chat_domain::{RepoError, UserId};
use diesel::dsl::exists;
use diesel::prelude::*;

use crate::error::OrRepoError;
use crate::schema::users;
use crate::tx::PgTx;

impl UserDirectory for PgTx<'_> {
    fn user_exists(&mut self, id: UserId) -> Result<bool, RepoError> {
        diesel::select(exists(users::table.filter(users::id.eq(id.get())))).get_result(self.conn()).or_repo()
    }
}

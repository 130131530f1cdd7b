//! [`GroupMemberRepository`] on the existing app's groups (read only).

use chat_domain::conversations::UserSummary;
use chat_domain::group_members::GroupMemberRepository;
use chat_domain::{GroupId, RepoError, UserId};
use diesel::prelude::*;

use crate::error::OrRepoError;
use crate::schema::{chat_group_members, chat_groups, users};
use crate::tx::PgTx;

impl GroupMemberRepository for PgTx<'_> {
    fn member_group_kind(&mut self, group: GroupId, user: UserId) -> Result<Option<String>, RepoError> {
        chat_groups::table
            .inner_join(chat_group_members::table.on(chat_group_members::group_id.eq(chat_groups::id)))
            .filter(chat_groups::id.eq(group.get()))
            .filter(chat_groups::is_active)
            // The old shared support groups are exactly what isolation replaces: their
            // members must never be listed to each other.
            .filter(chat_groups::kind.ne("support"))
            .filter(chat_group_members::user_id.eq(user.get()))
            .select(chat_groups::kind)
            .first(self.conn())
            .optional()
            .or_repo()
    }

    fn list_members(
        &mut self,
        group: GroupId,
        after: Option<UserId>,
        limit: u16,
    ) -> Result<Vec<UserSummary>, RepoError> {
        let rows: Vec<(i32, String, Option<String>)> = chat_group_members::table
            .inner_join(users::table.on(users::id.eq(chat_group_members::user_id)))
            .filter(chat_group_members::group_id.eq(group.get()))
            .filter(users::id.gt(after.map_or(0, UserId::get)))
            .order(users::id)
            .limit(i64::from(limit) + 1)
            .select((users::id, users::display_name, users::profile_photo_url))
            .load(self.conn())
            .or_repo()?;
        Ok(rows
            .into_iter()
            .map(|(id, display_name, profile_photo_url)| UserSummary {
                id: UserId(id),
                display_name,
                profile_photo_url,
            })
            .collect())
    }
}

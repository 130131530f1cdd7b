//! The user's chat list: "Help & Support" pinned first (present even before the support
//! conversation exists), then DMs and groups merged by last activity, each with its
//! unread count, and the total unread.

use chrono::{DateTime, Utc};

use crate::direct_messages::{DirectMessageRepository, DmCursor, DmListQuery, DmSummary};
use crate::error::RepoError;
use crate::group_messages::{GroupMessageRepository, GroupSummary};
use crate::ids::ConversationId;
use crate::principal::Principal;
use crate::support::{SupportConversation, SupportRepository};

/// A DM or a group in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEntry {
    /// A direct message.
    Dm(DmSummary),
    /// A group the user is a member of.
    Group(GroupSummary),
}

impl ChatEntry {
    /// Its place in the list: last activity, then kind, then id, all descending.
    pub fn key(&self) -> ChatCursor {
        match self {
            Self::Dm(dm) => ChatCursor { at: dm.last_message_at, group: false, id: dm.id.get() },
            Self::Group(group) => {
                ChatCursor { at: group.last_activity(), group: true, id: i64::from(group.group.id.get()) }
            }
        }
    }
}

/// A position in the list (entries strictly after it come next).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChatCursor {
    /// Last activity.
    pub at: DateTime<Utc>,
    /// Groups sort before DMs at the same instant.
    pub group: bool,
    /// The DM's or group's id.
    pub id: i64,
}

/// One page of the chat list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatList {
    /// The caller's support conversation, if it exists yet (the entry is always shown).
    pub support: Option<SupportConversation>,
    /// DMs and groups, most recent activity first.
    pub entries: Vec<ChatEntry>,
    /// Unread messages over support, every active DM and every group.
    pub total_unread: i64,
    /// Where the next page starts.
    pub next: Option<ChatCursor>,
}

/// A page of the caller's chat list.
pub fn chat_list(
    repo: &mut (impl SupportRepository + DirectMessageRepository + GroupMessageRepository + ?Sized),
    caller: &Principal,
    after: Option<ChatCursor>,
    limit: u16,
) -> Result<ChatList, RepoError> {
    let user = caller.user_id;
    let support = match repo.support_id_for_user(user)? {
        Some(id) => repo.support_conversation(id)?,
        None => None,
    };
    // DMs after the cursor: at the cursor's instant, a group cursor comes before every DM.
    let dm_after = after.map(|c| DmCursor(c.at, ConversationId(if c.group { i64::MAX } else { c.id })));
    let dms = repo.list_user_dms(user, &DmListQuery { archived: false, after: dm_after, limit })?;
    let groups = repo.group_summaries(user)?;
    let total_unread = support.as_ref().map_or(0, |s| i64::from(s.user_side.unread))
        + repo.total_dm_unread(user)?
        + groups.iter().map(|g| g.read.unread).sum::<i64>();

    let mut entries: Vec<ChatEntry> = dms.into_iter().map(ChatEntry::Dm).collect();
    entries.extend(
        groups.into_iter().map(ChatEntry::Group).filter(|entry| after.is_none_or(|cursor| entry.key() < cursor)),
    );
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.key()));
    let has_more = entries.len() > usize::from(limit);
    entries.truncate(usize::from(limit));
    let next = if has_more { entries.last().map(ChatEntry::key) } else { None };
    Ok(ChatList { support, entries, total_unread, next })
}

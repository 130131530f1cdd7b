//! Keyset pages through a conversation's history. Never OFFSET.

use crate::ids::MessageId;
use crate::values::ValueError;

/// The largest page.
pub const MAX_PAGE: u16 = 100;

/// Which slice of history to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryQuery {
    /// Newest first, strictly before `before` (from the newest message when `None`).
    Older {
        /// The cursor: a message of this conversation.
        before: Option<MessageId>,
        /// Page size, 1..=100.
        limit: u16,
    },
    /// Oldest first, strictly after `after` (`MessageId(0)` = from the beginning).
    Newer {
        /// The cursor: a message of this conversation, or 0.
        after: MessageId,
        /// Page size, 1..=100.
        limit: u16,
    },
}

impl HistoryQuery {
    /// Validates the query parameters (`before` and `after` are exclusive).
    pub fn new(
        before: Option<i64>,
        after: Option<i64>,
        limit: Option<u16>,
    ) -> Result<Self, (&'static str, ValueError)> {
        let limit = limit.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(("limit", ValueError::new("out_of_range", format!("must be between 1 and {MAX_PAGE}"))));
        }
        match (before, after) {
            (Some(_), Some(_)) => {
                Err(("after", ValueError::new("exclusive", "give either `before` or `after`, not both")))
            }
            (None, Some(after)) if after < 0 => Err(("after", ValueError::new("out_of_range", "must be >= 0"))),
            (None, Some(after)) => Ok(Self::Newer { after: MessageId(after), limit }),
            (before, None) => Ok(Self::Older { before: before.map(MessageId), limit }),
        }
    }

    /// The page size.
    pub const fn limit(&self) -> u16 {
        match *self {
            Self::Older { limit, .. } | Self::Newer { limit, .. } => limit,
        }
    }

    /// The message the cursor names, if it must belong to the conversation.
    pub const fn cursor(&self) -> Option<MessageId> {
        match *self {
            Self::Older { before, .. } => before,
            Self::Newer { after: MessageId(0), .. } => None,
            Self::Newer { after, .. } => Some(after),
        }
    }
}

/// One page of results and the cursor for the next one, in the same direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in the query's order.
    pub items: Vec<T>,
    /// Pass as `before` (or `after`) to get the next page; `None` on the last page.
    pub next_cursor: Option<MessageId>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched rows: the extra row only says that
    /// there is more.
    pub fn from_overfetch(mut rows: Vec<T>, limit: u16, id_of: impl Fn(&T) -> MessageId) -> Self {
        let limit = usize::from(limit);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if has_more { rows.last().map(id_of) } else { None };
        Self { items: rows, next_cursor }
    }

    /// Maps the items.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_the_newest_fifty() {
        assert_eq!(HistoryQuery::new(None, None, None), Ok(HistoryQuery::Older { before: None, limit: 50 }));
    }

    #[test]
    fn rejects_both_cursors_and_bad_limits() {
        assert_eq!(HistoryQuery::new(Some(5), Some(1), None).unwrap_err().0, "after");
        assert_eq!(HistoryQuery::new(None, None, Some(0)).unwrap_err().0, "limit");
        assert_eq!(HistoryQuery::new(None, None, Some(101)).unwrap_err().0, "limit");
        assert_eq!(HistoryQuery::new(None, Some(-1), None).unwrap_err().0, "after");
    }

    #[test]
    fn after_zero_reads_from_the_beginning_without_a_cursor_message() {
        assert_eq!(HistoryQuery::new(None, Some(0), Some(10)).unwrap().cursor(), None);
        assert_eq!(HistoryQuery::new(Some(7), None, Some(10)).unwrap().cursor(), Some(MessageId(7)));
    }

    #[test]
    fn the_overfetched_row_only_signals_more() {
        let page = Page::from_overfetch(vec![9, 8, 7], 2, |n| MessageId(*n));
        assert_eq!(page.items, [9, 8]);
        assert_eq!(page.next_cursor, Some(MessageId(8)));
        let last = Page::from_overfetch(vec![9, 8], 2, |n| MessageId(*n));
        assert_eq!(last.next_cursor, None);
    }
}

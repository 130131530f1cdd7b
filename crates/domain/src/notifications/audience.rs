//! Who receives a notice: one user, a list of users, or every user.

use std::collections::BTreeSet;

use crate::ids::UserId;
use crate::values::ValueError;

/// The largest list of users one send may name (larger audiences use `allUsers`).
pub const MAX_LISTED_RECIPIENTS: usize = 10_000;

/// The recipients of a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// One user.
    User(UserId),
    /// Several users: distinct, in ascending order, 1..=10,000 of them.
    Users(Vec<UserId>),
    /// Every user of the app, including those who never opened the chat.
    AllUsers,
}

/// The shape of an audience, as stored and shown in the admin history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudienceKind {
    /// `userId`.
    User,
    /// `userIds`.
    Users,
    /// `allUsers`.
    AllUsers,
}

impl AudienceKind {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Users => "users",
            Self::AllUsers => "all",
        }
    }

    /// Parses a stored name.
    pub fn from_db(raw: &str) -> Option<Self> {
        [Self::User, Self::Users, Self::AllUsers].into_iter().find(|k| k.as_str() == raw)
    }
}

impl Audience {
    /// Builds the audience from the three request fields, of which exactly one must be
    /// given (`allUsers: false` counts as not given). A list is deduplicated; it must
    /// name 1..=10,000 users. On refusal, returns the field to blame and why.
    pub fn new(
        user_id: Option<i32>,
        user_ids: Option<Vec<i32>>,
        all_users: Option<bool>,
    ) -> Result<Self, (&'static str, ValueError)> {
        let all = all_users == Some(true);
        let given = [user_id.is_some(), user_ids.is_some(), all];
        if given.iter().filter(|g| **g).count() > 1 {
            let field = if user_ids.is_some() && user_id.is_some() { "userIds" } else { "allUsers" };
            return Err((field, ValueError::new("exclusive", "give only one of userId, userIds and allUsers")));
        }
        match (user_id, user_ids) {
            (Some(id), None) => Ok(Self::User(UserId(id))),
            (None, Some(ids)) => {
                if ids.is_empty() {
                    return Err(("userIds", ValueError::new("empty", "must name at least one user")));
                }
                let distinct: BTreeSet<i32> = ids.into_iter().collect();
                if distinct.len() > MAX_LISTED_RECIPIENTS {
                    return Err((
                        "userIds",
                        ValueError::new(
                            "too_many",
                            format!(
                                "must name at most {MAX_LISTED_RECIPIENTS} users (got {}); use allUsers for everyone",
                                distinct.len()
                            ),
                        ),
                    ));
                }
                Ok(Self::Users(distinct.into_iter().map(UserId).collect()))
            }
            _ if all => Ok(Self::AllUsers),
            _ => Err(("userId", ValueError::new("required", "give the audience: userId, userIds, or allUsers: true"))),
        }
    }

    /// Its kind.
    pub const fn kind(&self) -> AudienceKind {
        match self {
            Self::User(_) => AudienceKind::User,
            Self::Users(_) => AudienceKind::Users,
            Self::AllUsers => AudienceKind::AllUsers,
        }
    }

    /// The named users (`None` for everyone).
    pub fn named_users(&self) -> Option<&[UserId]> {
        match self {
            Self::User(user) => Some(std::slice::from_ref(user)),
            Self::Users(users) => Some(users),
            Self::AllUsers => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn field(r: Result<Audience, (&'static str, ValueError)>) -> (&'static str, &'static str) {
        let (field, e) = r.unwrap_err();
        (field, e.code)
    }

    #[test]
    fn exactly_one_audience_is_required() {
        assert_eq!(field(Audience::new(None, None, None)), ("userId", "required"));
        assert_eq!(field(Audience::new(None, None, Some(false))), ("userId", "required"));
        assert_eq!(field(Audience::new(Some(1), Some(vec![2]), None)), ("userIds", "exclusive"));
        assert_eq!(field(Audience::new(Some(1), None, Some(true))), ("allUsers", "exclusive"));
        assert_eq!(field(Audience::new(None, Some(vec![1]), Some(true))), ("allUsers", "exclusive"));
        assert_eq!(Audience::new(Some(4), None, Some(false)).unwrap(), Audience::User(UserId(4)));
        assert_eq!(Audience::new(None, None, Some(true)).unwrap(), Audience::AllUsers);
    }

    #[test]
    fn lists_are_deduplicated_sorted_and_bounded() {
        assert_eq!(
            Audience::new(None, Some(vec![3, 1, 3, 2]), None).unwrap(),
            Audience::Users(vec![UserId(1), UserId(2), UserId(3)])
        );
        assert_eq!(field(Audience::new(None, Some(vec![]), None)), ("userIds", "empty"));
        let max: Vec<i32> = (1..=10_000).collect();
        assert!(Audience::new(None, Some(max), None).is_ok());
        let over: Vec<i32> = (1..=10_001).collect();
        assert_eq!(field(Audience::new(None, Some(over), None)), ("userIds", "too_many"));
        // Duplicates do not count twice against the limit.
        let doubled: Vec<i32> = (1..=10_000).chain(1..=10_000).collect();
        assert!(Audience::new(None, Some(doubled), None).is_ok());
    }

    #[test]
    fn named_users_of_each_kind() {
        assert_eq!(Audience::User(UserId(5)).named_users(), Some(&[UserId(5)][..]));
        assert_eq!(Audience::AllUsers.named_users(), None);
        assert_eq!(AudienceKind::from_db(Audience::AllUsers.kind().as_str()), Some(AudienceKind::AllUsers));
    }

    proptest! {
        /// A list audience holds exactly the distinct ids asked for, in order.
        #[test]
        fn a_list_names_exactly_the_distinct_ids(ids in proptest::collection::vec(1..50i32, 1..40)) {
            let Audience::Users(users) = Audience::new(None, Some(ids.clone()), None).unwrap() else {
                panic!("a list gives a list audience");
            };
            let expected: Vec<UserId> = ids.iter().copied().collect::<BTreeSet<_>>().into_iter().map(UserId).collect();
            prop_assert_eq!(users, expected);
        }
    }
}

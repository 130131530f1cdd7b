//! Gradual rollout: whose support moves in a run (the plan's "phase-wise deployment
//! with user groups"). Users outside the cohort keep the old support groups; the ones
//! moved are listed in `chat_support_users`, which the existing app and the admin
//! queue read.

/// The users a run moves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Cohort {
    /// Everyone.
    #[default]
    All,
    /// These user ids.
    Users(Vec<i32>),
    /// The members of this group (for instance a beta-testers group of the old app).
    Group(i32),
    /// The users whose `id % 100` is below this number: a stable share of the ids, so
    /// `Percent(10)` then `Percent(100)` moves a tenth first and then the rest.
    Percent(u8),
}

impl Cohort {
    /// `SELECT id`: the cohort's existing users.
    pub(crate) fn users_sql(&self) -> String {
        match self {
            Self::All => "SELECT id FROM users".to_owned(),
            Self::Users(ids) => {
                let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                format!("SELECT id FROM users WHERE id = ANY('{{{}}}'::int[])", ids.join(","))
            }
            Self::Group(group) => {
                format!(
                    "SELECT u.id FROM users u JOIN chat_group_members m ON m.user_id = u.id WHERE m.group_id = {group}"
                )
            }
            Self::Percent(share) => format!("SELECT id FROM users WHERE id % 100 < {}", (*share).min(100)),
        }
    }

    /// A filter on `chat_messages cm` keeping the cohort's rows (empty for everyone).
    pub(crate) fn owner_filter(&self) -> String {
        match self {
            Self::All => String::new(),
            _ => format!("AND cm.support_conversation_user_id IN ({})", self.users_sql()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cohort;

    #[test]
    fn a_cohort_is_a_set_of_existing_users() {
        assert_eq!(Cohort::All.owner_filter(), "");
        assert!(Cohort::Users(vec![3, 5]).users_sql().contains("'{3,5}'::int[]"));
        assert!(Cohort::Percent(250).users_sql().ends_with("< 100"));
        assert!(Cohort::Group(7).owner_filter().contains("m.group_id = 7"));
    }
}

//! The authenticated caller, as established by the API's token check.

use crate::ids::UserId;

/// What the caller's token says they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An end user of the community app.
    User,
    /// A member of the support team: may answer support, speak as personas, moderate.
    Admin,
}

/// An authenticated real user (admins are real users whose token carries the admin role).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// The `users` row the token's `sub` names; the API checked that it exists.
    pub user_id: UserId,
    /// The role claim of the token.
    pub role: Role,
}

impl Principal {
    /// An end user.
    pub const fn user(user_id: UserId) -> Self {
        Self { user_id, role: Role::User }
    }

    /// An admin.
    pub const fn admin(user_id: UserId) -> Self {
        Self { user_id, role: Role::Admin }
    }

    /// Whether the caller holds the admin role.
    pub const fn is_admin(&self) -> bool {
        matches!(self.role, Role::Admin)
    }
}

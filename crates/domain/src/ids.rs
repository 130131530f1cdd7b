//! Newtype identifiers: a persona id can never be passed where a user id is expected.
//!
//! Ids are integers, as in the existing schema (`SERIAL` for the app's tables,
//! `BIGSERIAL` for conversations and messages). A foreign id and a missing id are
//! answered alike everywhere, so guessing one reveals nothing.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident($inner:ty)) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            /// The raw database value.
            pub const fn get(self) -> $inner {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A row of the existing app's `users` table (admins are users too).
    UserId(i32)
);
id_type!(
    /// A row of `chat_fake_users`: a persona that admins speak as.
    PersonaId(i32)
);
id_type!(
    /// A row of the existing app's `chat_groups` table.
    GroupId(i32)
);
id_type!(
    /// A support conversation or a direct message conversation (`direct_messages`).
    ConversationId(i64)
);
id_type!(
    /// A message in a conversation (`dm_messages`) or a group (`chat_messages`).
    MessageId(i64)
);

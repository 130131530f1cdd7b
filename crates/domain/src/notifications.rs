//! Admin notifications ("notices") into users' personal groups.
//!
//! An admin sends a notice to one user, a list of up to 10,000 users, or every user. It
//! lands in each recipient's personal group (created on demand, one per user) as a
//! message with no sender, centred, in a named template's colours or custom `#RRGGBB`
//! colours. A notice may expire; an admin may retract it, and then it is gone for every
//! recipient. The sending admin is recorded for the admin history and never shown to
//! users.
//!
//! Delivery is set-based: the adapter creates missing personal groups and inserts every
//! recipient's row in a few statements of one transaction, never one round trip per
//! user. A send returns what a real-time publisher needs (the notification id and its
//! audience) so that pushing can happen after the commit.

mod admin;
mod audience;
mod model;
mod ports;
mod send;
mod style;

pub use self::admin::{list_notifications, retract_notification};
pub use self::audience::{Audience, AudienceKind, MAX_LISTED_RECIPIENTS};
pub use self::model::{
    NewNotification, NotificationId, NotificationQuery, NotificationRecord, NotificationStatus, SentNotification,
    check_expiry, is_visible,
};
#[cfg(any(test, feature = "mock"))]
pub use self::ports::MockNotificationRepository;
pub use self::ports::NotificationRepository;
pub use self::send::{SendNotificationError, send_notification};
pub use self::style::{Colours, HexColour, NotificationStyle, Template};

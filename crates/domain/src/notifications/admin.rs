//! The admin history and retraction.

use crate::error::AdminError;
use crate::events::Recipients;
use crate::events::{ChatEvent, Done};
use crate::notifications::model::{NotificationId, NotificationQuery, NotificationRecord};
use crate::notifications::ports::NotificationRepository;
use crate::principal::Principal;

/// A page of sent notifications, newest first, with reach and read counts, and the
/// cursor of the next page.
pub fn list_notifications(
    repo: &mut (impl NotificationRepository + ?Sized),
    caller: &Principal,
    query: &NotificationQuery,
) -> Result<(Vec<NotificationRecord>, Option<NotificationId>), AdminError> {
    AdminError::require_admin(caller)?;
    let mut rows = repo.list_notifications(query)?;
    let has_more = rows.len() > usize::from(query.limit);
    rows.truncate(usize::from(query.limit));
    let next = if has_more { rows.last().map(|r| r.id) } else { None };
    Ok((rows, next))
}

/// Retracts a notification: it disappears for every recipient at once. Retracting it
/// again changes nothing and succeeds.
pub fn retract_notification(
    repo: &mut (impl NotificationRepository + ?Sized),
    caller: &Principal,
    id: NotificationId,
) -> Result<Done<()>, AdminError> {
    AdminError::require_admin(caller)?;
    let newly = repo.retract(id, caller.user_id)?.ok_or(AdminError::NotFound)?;
    if !newly {
        return Ok(Done::quiet(()));
    }
    let recipients = repo.recipients(id)?.map_or(Recipients::Everyone, Recipients::Users);
    Ok(Done::new((), vec![ChatEvent::NotificationRetracted { recipients, notification: id }]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::notifications::ports::MockNotificationRepository;

    #[test]
    fn retraction_is_for_admins_and_missing_ids_are_not_found() {
        let mut repo = MockNotificationRepository::new();
        repo.expect_retract()
            .withf(|id, admin| *id == NotificationId(3) && *admin == UserId(1))
            .returning(|_, _| Ok(None));
        let user = Principal::user(UserId(2));
        assert!(matches!(retract_notification(&mut repo, &user, NotificationId(3)), Err(AdminError::Forbidden)));
        let admin = Principal::admin(UserId(1));
        assert!(matches!(retract_notification(&mut repo, &admin, NotificationId(3)), Err(AdminError::NotFound)));
    }

    #[test]
    fn retracting_twice_succeeds() {
        let mut repo = MockNotificationRepository::new();
        repo.expect_retract().returning(|_, _| Ok(Some(false)));
        assert!(retract_notification(&mut repo, &Principal::admin(UserId(1)), NotificationId(3)).is_ok());
    }

    #[test]
    fn the_history_is_for_admins_only() {
        let mut repo = MockNotificationRepository::new();
        repo.expect_list_notifications().never();
        let query = NotificationQuery { user: None, before: None, limit: 2 };
        assert!(matches!(
            list_notifications(&mut repo, &Principal::user(UserId(2)), &query),
            Err(AdminError::Forbidden)
        ));
    }
}

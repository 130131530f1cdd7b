//! Sending a notice.

use crate::error::RepoError;
use crate::events::{ChatEvent, Done, Recipients};
use crate::ids::UserId;
use crate::notifications::model::{NewNotification, SentNotification};
use crate::notifications::ports::NotificationRepository;
use crate::principal::Principal;

/// Why a notice could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendNotificationError {
    /// The caller is not an admin.
    #[error("admins only")]
    Forbidden,
    /// Some named recipients do not exist (in ascending order); nothing was stored.
    #[error("unknown users: {0:?}")]
    UnknownUsers(Vec<UserId>),
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Sends `new` as `caller`: checks the recipients, stores the notification, creates
/// missing personal groups and stores one notice in each. A retry with the same
/// idempotency key returns the first send's result and stores nothing. Its event
/// (the notice, to every recipient's sockets) names no sender.
pub fn send_notification(
    repo: &mut (impl NotificationRepository + ?Sized),
    caller: &Principal,
    new: &NewNotification,
) -> Result<Done<SentNotification>, SendNotificationError> {
    let sent = send(repo, caller, new)?;
    let events = sent
        .delivered_to
        .as_ref()
        .map(|audience| ChatEvent::NotificationCreated {
            recipients: Recipients::from(audience),
            notification: sent.id,
            content: new.content.as_str().to_owned(),
            style: new.style.clone(),
            expires_at: new.expires_at,
        })
        .into_iter()
        .collect();
    Ok(Done::new(sent, events))
}

fn send(
    repo: &mut (impl NotificationRepository + ?Sized),
    caller: &Principal,
    new: &NewNotification,
) -> Result<SentNotification, SendNotificationError> {
    if !caller.is_admin() {
        return Err(SendNotificationError::Forbidden);
    }
    let retry = |repo: &mut _| -> Result<Option<SentNotification>, RepoError> {
        Ok(match new.client_id {
            Some(key) => find(repo, key)?,
            None => None,
        })
    };
    if let Some(sent) = retry(repo)? {
        return Ok(sent);
    }
    if let Some(users) = new.audience.named_users() {
        let missing = repo.missing_users(users)?;
        if !missing.is_empty() {
            return Err(SendNotificationError::UnknownUsers(missing));
        }
    }
    let Some(id) = repo.insert_notification(caller.user_id, new)? else {
        // A concurrent retry with the same key committed first: answer as a retry.
        return retry(repo)?
            .ok_or_else(|| RepoError::internal("idempotency key conflicted but no notification holds it").into());
    };
    repo.ensure_personal_groups(&new.audience)?;
    let reach = repo.deliver(id, &new.audience, new)?;
    Ok(SentNotification { id, reach, created: true, delivered_to: Some(new.audience.clone()) })
}

fn find(
    repo: &mut (impl NotificationRepository + ?Sized),
    key: uuid::Uuid,
) -> Result<Option<SentNotification>, RepoError> {
    Ok(repo.find_by_client_id(key)?.map(|(id, reach)| SentNotification {
        id,
        reach,
        created: false,
        delivered_to: None,
    }))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::notifications::audience::Audience;
    use crate::notifications::model::NotificationId;
    use crate::notifications::ports::MockNotificationRepository;
    use crate::notifications::style::NotificationStyle;
    use crate::values::MessageContent;

    const ADMIN: Principal = Principal::admin(UserId(1));

    fn new(audience: Audience, key: Option<Uuid>) -> NewNotification {
        NewNotification::new(
            audience,
            MessageContent::parse("Your account was upgraded.").unwrap(),
            NotificationStyle::default(),
            None,
            key,
            Utc::now(),
        )
        .unwrap()
    }

    #[test]
    fn users_cannot_send_and_nothing_is_touched() {
        let mut repo = MockNotificationRepository::new();
        repo.expect_insert_notification().never();
        let err = send_notification(&mut repo, &Principal::user(UserId(2)), &new(Audience::AllUsers, None));
        assert!(matches!(err, Err(SendNotificationError::Forbidden)));
    }

    #[test]
    fn a_send_to_all_users_creates_groups_and_delivers_without_naming_anyone() {
        let mut repo = MockNotificationRepository::new();
        repo.expect_missing_users().never();
        repo.expect_insert_notification()
            .withf(|admin, _| *admin == UserId(1))
            .times(1)
            .returning(|_, _| Ok(Some(NotificationId(9))));
        repo.expect_ensure_personal_groups().withf(|a| *a == Audience::AllUsers).times(1).returning(|_| Ok(40));
        repo.expect_deliver()
            .withf(|id, a, _| *id == NotificationId(9) && *a == Audience::AllUsers)
            .times(1)
            .returning(|_, _, _| Ok(100));
        let sent = send_notification(&mut repo, &ADMIN, &new(Audience::AllUsers, None)).unwrap().value;
        assert_eq!(
            sent,
            SentNotification {
                id: NotificationId(9),
                reach: 100,
                created: true,
                delivered_to: Some(Audience::AllUsers)
            }
        );
    }

    #[test]
    fn unknown_recipients_are_named_and_nothing_is_stored() {
        let mut repo = MockNotificationRepository::new();
        repo.expect_missing_users()
            .withf(|users| users == [UserId(2), UserId(5), UserId(7)])
            .returning(|_| Ok(vec![UserId(5)]));
        repo.expect_insert_notification().never();
        repo.expect_ensure_personal_groups().never();
        repo.expect_deliver().never();
        let audience = Audience::new(None, Some(vec![7, 2, 5]), None).unwrap();
        let err = send_notification(&mut repo, &ADMIN, &new(audience, None)).unwrap_err();
        assert!(matches!(err, SendNotificationError::UnknownUsers(ref u) if u == &[UserId(5)]));
    }

    #[test]
    fn a_single_user_is_checked_too() {
        let mut repo = MockNotificationRepository::new();
        repo.expect_missing_users().returning(|users| Ok(users.to_vec()));
        repo.expect_insert_notification().never();
        let err = send_notification(&mut repo, &ADMIN, &new(Audience::User(UserId(3)), None)).unwrap_err();
        assert!(matches!(err, SendNotificationError::UnknownUsers(_)));
    }

    #[test]
    fn a_retry_returns_the_first_send_and_stores_nothing() {
        let key = Uuid::new_v4();
        let mut repo = MockNotificationRepository::new();
        repo.expect_find_by_client_id().withf(move |k| *k == key).returning(|_| Ok(Some((NotificationId(4), 12))));
        repo.expect_missing_users().never();
        repo.expect_insert_notification().never();
        repo.expect_deliver().never();
        let sent = send_notification(&mut repo, &ADMIN, &new(Audience::AllUsers, Some(key))).unwrap().value;
        assert_eq!(sent, SentNotification { id: NotificationId(4), reach: 12, created: false, delivered_to: None });
    }

    #[test]
    fn losing_an_idempotency_race_answers_as_a_retry() {
        let key = Uuid::new_v4();
        let mut repo = MockNotificationRepository::new();
        let mut lookups = 0;
        repo.expect_find_by_client_id().times(2).returning(move |_| {
            lookups += 1;
            Ok((lookups == 2).then_some((NotificationId(6), 3)))
        });
        repo.expect_missing_users().returning(|_| Ok(vec![]));
        repo.expect_insert_notification().times(1).returning(|_, _| Ok(None));
        repo.expect_ensure_personal_groups().never();
        repo.expect_deliver().never();
        let sent = send_notification(&mut repo, &ADMIN, &new(Audience::User(UserId(3)), Some(key))).unwrap().value;
        assert_eq!((sent.id, sent.created), (NotificationId(6), false));
    }
}

//! The process table: what each callback learnt about a `processId`.

use chrono::{DateTime, Utc};
use entity::process;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

/// What a callback knows about its process.
#[derive(Debug, Clone, Copy)]
pub struct ProcessSeen<'a> {
    pub process_id: &'a str,
    pub process_type: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub identity_verification_id: Option<&'a str>,
    pub callback: &'a str,
}

/// Records that a callback for the process arrived: creates the row on first sight,
/// otherwise updates `last_seen_at` and fills in values that are now known (a value the
/// callback does not carry is left as it is). One statement, `INSERT … ON CONFLICT DO
/// UPDATE` (`ON DUPLICATE KEY UPDATE` on MySQL), so concurrent first callbacks cannot race.
///
/// # Errors
/// Database errors.
pub async fn touch(
    db: &impl ConnectionTrait,
    seen: ProcessSeen<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use process::Column as C;
    let carried = [
        (seen.process_type, C::ProcessType),
        // The user id can change (temporary activation swaps it at target activation).
        (seen.user_id, C::UserId),
        (seen.identity_verification_id, C::IdentityVerificationId),
    ]
    .into_iter()
    .filter_map(|(value, column)| value.map(|_| column));
    let model = process::ActiveModel {
        process_id: Set(seen.process_id.to_owned()),
        process_type: Set(seen.process_type.map(str::to_owned)),
        user_id: Set(seen.user_id.map(str::to_owned)),
        identity_verification_id: Set(seen.identity_verification_id.map(str::to_owned)),
        last_callback: Set(seen.callback.to_owned()),
        first_seen_at: Set(now),
        last_seen_at: Set(now),
    };
    process::Entity::insert(model)
        .on_conflict(
            OnConflict::column(C::ProcessId)
                .update_columns([C::LastSeenAt, C::LastCallback].into_iter().chain(carried))
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// # Errors
/// Database errors.
pub async fn find(
    db: &impl ConnectionTrait,
    process_id: &str,
) -> Result<Option<process::Model>, DbErr> {
    process::Entity::find_by_id(process_id.to_owned())
        .one(db)
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;
    use crate::storage::tests::database;

    /// A callback's values are stored on first sight; a later callback updates what it
    /// carries and keeps the rest.
    #[tokio::test]
    async fn a_callback_updates_what_it_carries_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path()).await;
        let at = |minute| Utc.with_ymd_and_hms(2026, 12, 1, 5, minute, 0).unwrap();
        let seen = |callback, process_type, user_id, identity_verification_id| ProcessSeen {
            process_id: "p-1",
            process_type,
            user_id,
            identity_verification_id,
            callback,
        };
        let touch_in_one_transaction = |seen, at| {
            let db = db.clone();
            async move {
                let txn = db.begin().await.unwrap();
                touch(&txn, seen, at).await.unwrap();
                txn.commit().await.unwrap();
            }
        };
        let lookup = seen("user_lookup", Some("onboarding"), Some("C-1"), None);
        touch_in_one_transaction(lookup, at(1)).await;
        let evaluate = seen("client_evaluate", None, None, Some("iv-1"));
        touch_in_one_transaction(evaluate, at(2)).await;
        let row = find(db.reads(), "p-1").await.unwrap().unwrap();
        assert_eq!(row.process_type.as_deref(), Some("onboarding"));
        assert_eq!(row.user_id.as_deref(), Some("C-1"));
        assert_eq!(row.identity_verification_id.as_deref(), Some("iv-1"));
        assert_eq!(row.last_callback, "client_evaluate");
        assert_eq!((row.first_seen_at, row.last_seen_at), (at(1), at(2)));

        // The user id can change; the type and verification stay.
        let approve = seen("client_approve", None, Some("C-2"), None);
        touch_in_one_transaction(approve, at(3)).await;
        let row = find(db.reads(), "p-1").await.unwrap().unwrap();
        assert_eq!(row.user_id.as_deref(), Some("C-2"));
        assert_eq!(row.process_type.as_deref(), Some("onboarding"));
        assert_eq!(row.identity_verification_id.as_deref(), Some("iv-1"));
        assert_eq!((row.first_seen_at, row.last_seen_at), (at(1), at(3)));
        // A rolled-back transaction leaves nothing.
        let txn = db.begin().await.unwrap();
        touch(
            &txn,
            ProcessSeen {
                process_id: "p-2",
                ..approve
            },
            at(4),
        )
        .await
        .unwrap();
        txn.rollback().await.unwrap();
        assert!(find(db.reads(), "p-2").await.unwrap().is_none());
    }
}

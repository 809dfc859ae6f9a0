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

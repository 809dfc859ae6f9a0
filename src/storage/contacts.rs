//! Per-process fallback e-mail addresses taken from the `/user/lookup` identification.

use chrono::{DateTime, Utc};
use entity::process_contact;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::observe::RequestContext;

/// Remembers `email` as the fallback address of `process_id` for `user_id`, replacing an
/// earlier one (the latest lookup of a process wins).
///
/// # Errors
/// Database errors.
pub async fn remember(
    db: &impl ConnectionTrait,
    process_id: &str,
    user_id: &str,
    email: &str,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use process_contact::Column as C;
    let model = process_contact::ActiveModel {
        process_id: Set(process_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        email: Set(email.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        correlation_id: Set(ctx.correlation_id.clone()),
        request_id: Set(ctx.request_id.clone()),
        ..Default::default()
    };
    process_contact::Entity::insert(model)
        .on_conflict(
            OnConflict::column(C::ProcessId)
                .update_columns([C::UserId, C::Email, C::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// The fallback address of `process_id`, when it was taken for `user_id`.
///
/// # Errors
/// Database errors.
pub async fn find(
    db: &impl ConnectionTrait,
    process_id: &str,
    user_id: &str,
) -> Result<Option<String>, DbErr> {
    use process_contact::Column as C;
    Ok(process_contact::Entity::find()
        .filter(C::ProcessId.eq(process_id))
        .filter(C::UserId.eq(user_id))
        .one(db)
        .await?
        .map(|c| c.email))
}

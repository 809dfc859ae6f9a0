//! Prospects of prospect mode: one id per distinct identification, created once even
//! when several instances see the same identification at the same time.

use chrono::{DateTime, Utc};
use entity::prospect;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::insert_unless_exists;
use crate::observe::RequestContext;

/// The prospect id for `lookup_key`, created with `new_user_id` if none exists yet.
///
/// # Errors
/// Database errors.
pub async fn get_or_create(
    db: &impl ConnectionTrait,
    lookup_key: &str,
    new_user_id: &str,
    process_id: &str,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<String, DbErr> {
    let model = prospect::ActiveModel {
        lookup_key: Set(lookup_key.to_owned()),
        user_id: Set(new_user_id.to_owned()),
        process_id: Set(process_id.to_owned()),
        created_at: Set(now),
        correlation_id: Set(ctx.correlation_id.clone()),
        request_id: Set(ctx.request_id.clone()),
        ..Default::default()
    };
    if insert_unless_exists(db, model, [prospect::Column::LookupKey])
        .await?
        .is_some()
    {
        return Ok(new_user_id.to_owned());
    }
    find(db, lookup_key)
        .await?
        .map(|p| p.user_id)
        .ok_or_else(|| DbErr::RecordNotFound("prospect of a conflicting insert".into()))
}

async fn find(
    db: &impl ConnectionTrait,
    lookup_key: &str,
) -> Result<Option<prospect::Model>, DbErr> {
    prospect::Entity::find()
        .filter(prospect::Column::LookupKey.eq(lookup_key))
        .one(db)
        .await
}

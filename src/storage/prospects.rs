//! Prospects of prospect mode: one id per distinct identification, created once even
//! when several instances see the same identification at the same time. Prospects are
//! keyed by an HMAC of the identification; a prospect still under its legacy (unsalted
//! SHA-256) key is re-keyed the first time it is found.

use chrono::{DateTime, Utc};
use entity::prospect;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::insert_unless_exists;
use crate::observe::RequestContext;

/// The keys of one identification: the one rows are stored under, and the one rows were
/// stored under before (looked up, then re-keyed).
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    pub current: &'a str,
    pub legacy: &'a str,
}

/// The prospect id for `keys`, created with `new_user_id` if none exists yet. A prospect
/// found under the legacy key gets the current key in the caller's transaction.
///
/// # Errors
/// Database errors.
pub async fn get_or_create(
    db: &impl ConnectionTrait,
    keys: Keys<'_>,
    new_user_id: &str,
    process_id: &str,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<String, DbErr> {
    if let Some(found) = find(db, keys.current).await? {
        return Ok(found.user_id);
    }
    if let Some(legacy) = find(db, keys.legacy).await? {
        // Conditional on the legacy key: when a concurrent lookup re-keyed it first, this
        // changes nothing and the row is read under the current key below.
        prospect::Entity::update_many()
            .col_expr(prospect::Column::LookupKey, Expr::value(keys.current))
            .filter(prospect::Column::Id.eq(legacy.id))
            .filter(prospect::Column::LookupKey.eq(keys.legacy))
            .exec(db)
            .await?;
        return find(db, keys.current)
            .await?
            .map(|p| p.user_id)
            .ok_or_else(|| DbErr::RecordNotFound("re-keyed prospect".into()));
    }
    let lookup_key = keys.current;
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

//! The append-only audit log of back-office actions.

use chrono::{DateTime, Utc};
use entity::audit_log;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryOrder, QuerySelect,
};

use crate::observe::RequestContext;

#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub actor: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub target: Option<String>,
    pub detail: serde_json::Value,
}

/// # Errors
/// Database errors.
pub async fn record(
    db: &impl ConnectionTrait,
    e: Entry<'_>,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let model = audit_log::ActiveModel {
        actor: Set(e.actor.to_owned()),
        role: Set(e.role.to_owned()),
        action: Set(e.action.to_owned()),
        target: Set(e.target),
        detail: Set(e.detail),
        at: Set(now),
        correlation_id: Set(ctx.correlation_id.clone()),
        request_id: Set(ctx.request_id.clone()),
        ..Default::default()
    };
    audit_log::Entity::insert(model)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Newest first.
///
/// # Errors
/// Database errors.
pub async fn list(
    db: &impl ConnectionTrait,
    page: u64,
    page_size: u64,
) -> Result<(Vec<audit_log::Model>, u64), DbErr> {
    let total = audit_log::Entity::find().count(db).await?;
    let items = audit_log::Entity::find()
        .order_by_desc(audit_log::Column::Id)
        .offset(page.saturating_mul(page_size))
        .limit(page_size)
        .all(db)
        .await?;
    Ok((items, total))
}

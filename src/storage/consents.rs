//! Consent texts served and consent decisions (append-only).

use chrono::{DateTime, Utc};
use entity::{consent_decision, consent_text_served};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::observe::RequestContext;

#[derive(Debug, Clone)]
pub struct TextServed<'a> {
    pub process_id: &'a str,
    pub process_type: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub consent_type: &'a str,
    pub language_requested: Option<&'a str>,
    pub language_served: &'a str,
    pub text_version: &'a str,
}

/// # Errors
/// Database errors.
pub async fn record_served(
    db: &impl ConnectionTrait,
    served: TextServed<'_>,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let model = consent_text_served::ActiveModel {
        process_id: Set(served.process_id.to_owned()),
        process_type: Set(served.process_type.map(str::to_owned)),
        user_id: Set(served.user_id.map(str::to_owned)),
        consent_type: Set(served.consent_type.to_owned()),
        language_requested: Set(served.language_requested.map(str::to_owned)),
        language_served: Set(served.language_served.to_owned()),
        text_version: Set(served.text_version.to_owned()),
        served_at: Set(now),
        correlation_id: Set(ctx.correlation_id.clone()),
        request_id: Set(ctx.request_id.clone()),
        ..Default::default()
    };
    consent_text_served::Entity::insert(model)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// The version of the text last served to `process_id` for `consent_type`.
///
/// # Errors
/// Database errors.
pub async fn last_served_version(
    db: &impl ConnectionTrait,
    process_id: &str,
    consent_type: &str,
) -> Result<Option<String>, DbErr> {
    use consent_text_served::Column as C;
    let row = consent_text_served::Entity::find()
        .filter(C::ProcessId.eq(process_id))
        .filter(C::ConsentType.eq(consent_type))
        .order_by_desc(C::Id)
        .limit(1)
        .one(db)
        .await?;
    Ok(row.map(|r| r.text_version))
}

#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub process_id: Option<&'a str>,
    pub process_type: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub consent_type: &'a str,
    pub approved: bool,
    pub text_version: Option<String>,
}

/// Appends a decision; earlier ones are kept as history.
///
/// # Errors
/// Database errors.
pub async fn record_decision(
    db: &impl ConnectionTrait,
    decision: Decision<'_>,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let model = consent_decision::ActiveModel {
        process_id: Set(decision.process_id.map(str::to_owned)),
        process_type: Set(decision.process_type.map(str::to_owned)),
        user_id: Set(decision.user_id.map(str::to_owned)),
        consent_type: Set(decision.consent_type.to_owned()),
        approved: Set(decision.approved),
        text_version: Set(decision.text_version),
        decided_at: Set(now),
        correlation_id: Set(ctx.correlation_id.clone()),
        request_id: Set(ctx.request_id.clone()),
        ..Default::default()
    };
    consent_decision::Entity::insert(model)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// True when the latest decision of `user_id` for every type in `required` is an approval.
///
/// # Errors
/// Database errors.
pub async fn all_approved(
    db: &impl ConnectionTrait,
    user_id: &str,
    required: &[String],
) -> Result<bool, DbErr> {
    use consent_decision::Column as C;
    for consent_type in required {
        let latest = consent_decision::Entity::find()
            .filter(C::UserId.eq(user_id))
            .filter(C::ConsentType.eq(consent_type.as_str()))
            .order_by_desc(C::Id)
            .limit(1)
            .one(db)
            .await?;
        if !latest.is_some_and(|d| d.approved) {
            return Ok(false);
        }
    }
    Ok(true)
}

//! Consent texts served and consent decisions (append-only).

use chrono::{DateTime, Utc};
use entity::{consent_decision, consent_text_served};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::{Prepared, PreparedInsert, ReadModels, insert_row};

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
    static SERVED: PreparedInsert<10> = PreparedInsert::new(|_, _, values| {
        use consent_text_served::Column as C;
        insert_row(
            consent_text_served::Entity,
            [
                C::ProcessId,
                C::ProcessType,
                C::UserId,
                C::ConsentType,
                C::LanguageRequested,
                C::LanguageServed,
                C::TextVersion,
                C::ServedAt,
                C::CorrelationId,
                C::RequestId,
            ],
            values.map(Expr::val),
        )
    });
    SERVED
        .execute(
            db,
            0,
            [
                served.process_id.into(),
                served.process_type.into(),
                served.user_id.into(),
                served.consent_type.into(),
                served.language_requested.into(),
                served.language_served.into(),
                served.text_version.into(),
                now.into(),
                ctx.correlation_id.as_str().into(),
                ctx.request_id.as_str().into(),
            ],
        )
        .await
        .map(|_| ())
}

/// The version of the text last served to `process_id` for `consent_type`.
///
/// # Errors
/// Database errors.
pub async fn last_served_version(
    db: &impl ReadModels,
    process_id: &str,
    consent_type: &str,
) -> Result<Option<String>, DbErr> {
    static LAST: Prepared<consent_text_served::Entity, 2> =
        Prepared::new(|[process_id, consent_type]| {
            consent_text_served::Entity::find()
                .filter(consent_text_served::Column::ProcessId.eq(process_id))
                .filter(consent_text_served::Column::ConsentType.eq(consent_type))
                .order_by_desc(consent_text_served::Column::Id)
                .limit(1)
        });
    let row = db
        .prepared(&LAST, [process_id.into(), consent_type.into()])
        .await?
        .pop();
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
    db: &impl ReadModels,
    user_id: &str,
    required: &[String],
) -> Result<bool, DbErr> {
    static LATEST: Prepared<consent_decision::Entity, 2> =
        Prepared::new(|[user_id, consent_type]| {
            consent_decision::Entity::find()
                .filter(consent_decision::Column::UserId.eq(user_id))
                .filter(consent_decision::Column::ConsentType.eq(consent_type))
                .order_by_desc(consent_decision::Column::Id)
                .limit(1)
        });
    for consent_type in required {
        let latest = db
            .prepared(&LATEST, [user_id.into(), consent_type.as_str().into()])
            .await?
            .pop();
        if !latest.is_some_and(|d| d.approved) {
            return Ok(false);
        }
    }
    Ok(true)
}

//! OTP delivery records, one per `/otp/send`. The code is never part of them.

use chrono::{DateTime, Utc};
use entity::otp_delivery;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
};

use crate::domain::otp_delivery::Outcome;
use crate::observe::RequestContext;

#[derive(Debug, Clone)]
pub struct Delivery {
    pub process_id: String,
    pub process_type: Option<String>,
    pub user_id: String,
    pub otp_type: String,
    pub resend: bool,
    /// The language the Onboarding Server asked for.
    pub language: Option<String>,
    pub destination_masked: Option<String>,
    /// Keyed hash of the address (see `services::otp::destination_key`).
    pub destination_key: Option<String>,
    /// `REGISTRY` or `IDENTIFICATION`.
    pub destination_source: Option<String>,
    /// The language of the message sent.
    pub mail_language: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub smtp_code: Option<i32>,
    pub error_class: Option<String>,
    pub message_id: Option<String>,
    pub smtp_ms: Option<i64>,
    pub duration_ms: i64,
}

impl Delivery {
    /// A record of `outcome` with nothing known about the destination yet.
    pub fn new(
        process_id: &str,
        process_type: Option<&str>,
        user_id: &str,
        otp_type: &str,
        resend: bool,
        language: Option<&str>,
        outcome: Outcome,
    ) -> Self {
        Self {
            process_id: process_id.to_owned(),
            process_type: process_type.map(str::to_owned),
            user_id: user_id.to_owned(),
            otp_type: otp_type.to_owned(),
            resend,
            language: language.map(str::to_owned),
            destination_masked: None,
            destination_key: None,
            destination_source: None,
            mail_language: None,
            outcome: outcome.as_str().to_owned(),
            detail: None,
            smtp_code: None,
            error_class: None,
            message_id: None,
            smtp_ms: None,
            duration_ms: 0,
        }
    }
}

/// Inserts the record and returns its id.
///
/// # Errors
/// Database errors.
pub async fn record(
    db: &impl ConnectionTrait,
    d: Delivery,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let model = otp_delivery::ActiveModel {
        process_id: Set(d.process_id),
        process_type: Set(d.process_type),
        user_id: Set(d.user_id),
        otp_type: Set(d.otp_type),
        resend: Set(d.resend),
        language: Set(d.language),
        destination_masked: Set(d.destination_masked),
        destination_key: Set(d.destination_key),
        destination_source: Set(d.destination_source),
        mail_language: Set(d.mail_language),
        outcome: Set(d.outcome),
        detail: Set(d.detail.map(truncate)),
        smtp_code: Set(d.smtp_code),
        error_class: Set(d.error_class),
        message_id: Set(d.message_id),
        smtp_ms: Set(d.smtp_ms),
        duration_ms: Set(d.duration_ms),
        created_at: Set(now),
        correlation_id: Set(ctx.correlation_id.clone()),
        request_id: Set(ctx.request_id.clone()),
        ..Default::default()
    };
    Ok(otp_delivery::Entity::insert(model)
        .exec(db)
        .await?
        .last_insert_id)
}

/// How a reserved (`PENDING`) attempt ended.
#[derive(Debug, Clone)]
pub struct Finish {
    pub outcome: Outcome,
    pub detail: Option<String>,
    pub smtp_code: Option<i32>,
    pub error_class: Option<String>,
    pub message_id: Option<String>,
    pub smtp_ms: Option<i64>,
    pub duration_ms: i64,
}

/// Writes the outcome of the attempt `id`.
///
/// # Errors
/// Database errors.
pub async fn finish(db: &impl ConnectionTrait, id: i64, f: Finish) -> Result<(), DbErr> {
    use otp_delivery::Column as C;
    otp_delivery::Entity::update_many()
        .col_expr(C::Outcome, Expr::value(f.outcome.as_str()))
        .col_expr(C::Detail, Expr::value(f.detail.map(truncate)))
        .col_expr(C::SmtpCode, Expr::value(f.smtp_code))
        .col_expr(C::ErrorClass, Expr::value(f.error_class))
        .col_expr(C::MessageId, Expr::value(f.message_id))
        .col_expr(C::SmtpMs, Expr::value(f.smtp_ms))
        .col_expr(C::DurationMs, Expr::value(f.duration_ms))
        .filter(C::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Whose attempts a send cap counts.
#[derive(Debug, Clone, Copy)]
pub enum CapScope<'a> {
    Process(&'a str),
    User(&'a str),
    /// One destination address, by its keyed hash.
    Destination(&'a str),
    /// Every delivery.
    All,
}

/// Delivery attempts (see [`Outcome::ATTEMPTS`]) of `scope` created at or after `since`.
/// Counted in the database, so every instance sees every other's sends.
///
/// # Errors
/// Database errors.
pub async fn count_attempts(
    db: &impl ConnectionTrait,
    scope: CapScope<'_>,
    since: DateTime<Utc>,
) -> Result<u64, DbErr> {
    use otp_delivery::Column as C;
    let select = otp_delivery::Entity::find()
        .filter(C::CreatedAt.gte(since))
        .filter(C::Outcome.is_in(Outcome::ATTEMPTS.map(Outcome::as_str)));
    let select = match scope {
        CapScope::Process(id) => select.filter(C::ProcessId.eq(id)),
        CapScope::User(id) => select.filter(C::UserId.eq(id)),
        CapScope::Destination(key) => select.filter(C::DestinationKey.eq(key)),
        CapScope::All => select,
    };
    select.count(db).await
}

/// The `detail` column holds at most 255 characters.
fn truncate(detail: String) -> String {
    if detail.chars().count() <= 255 {
        detail
    } else {
        detail.chars().take(255).collect()
    }
}

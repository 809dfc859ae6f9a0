//! Outbound callbacks to the Onboarding Server's private API, written in the same
//! transaction as the resolution they carry and delivered by the outbox worker.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_message")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub review_case_id: i64,
    pub path: String,
    pub payload: Json,
    pub status: String,
    pub attempts: i32,
    pub uncertain: bool,
    pub next_attempt_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    pub lease_owner: Option<String>,
    pub give_up_at: DateTimeUtc,
    pub last_http_status: Option<i32>,
    pub last_error: Option<String>,
    pub response_result: Option<String>,
    pub response_reason: Option<String>,
    /// W3C `traceparent` of the request that caused it (`None` for rows written before).
    pub traceparent: Option<String>,
    /// Class of the last outcome (`DELIVERED`, `ALREADY_APPLIED`, `REJECTED`,
    /// `AUTH_FAILED`, `RETRYABLE`, `GAVE_UP`); `None` before the first attempt.
    pub outcome_class: Option<String>,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

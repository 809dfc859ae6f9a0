//! Review cases: one per WAIT decision (unique per identity verification and decision
//! point), resolved by a reviewer or by the deadline policy.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "review_case")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub identity_verification_id: String,
    pub decision_point: String,
    pub decision_id: i64,
    pub process_id: String,
    pub process_type: Option<String>,
    pub user_id: String,
    pub status: String,
    pub wait_reason: String,
    pub facts: Json,
    pub rule_trace: Json,
    pub deadline_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
    pub resolution_reason: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! Decisions answered to `/client/evaluate` and `/client/approve`, with their inputs' digest
//! and trace. Unique per (identityVerificationId, decision point, input digest) so that a
//! repeated identical call returns the stored answer.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "decision")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub identity_verification_id: String,
    pub decision_point: String,
    pub input_digest: String,
    pub process_id: String,
    pub process_type: Option<String>,
    pub user_id: String,
    pub provider: Option<String>,
    pub status: Option<String>,
    pub verification_id: Option<String>,
    pub input_summary: Json,
    pub outcome: String,
    pub result_reason: String,
    pub policy_version: String,
    pub rule_trace: Json,
    pub duration_us: i64,
    pub created_at: DateTimeUtc,
    pub correlation_id: String,
    pub request_id: String,
    /// The fact set the policy read (null for decisions made before facts were kept).
    pub facts: Option<Json>,
    /// Reason codes of the final outcome, as a JSON list.
    pub reason_codes: Option<Json>,
    /// When the input summary and facts were purged after retention.
    pub purged_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

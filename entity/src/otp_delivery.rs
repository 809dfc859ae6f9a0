//! One row per `/otp/send` attempt. There is deliberately no column for the code itself.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "otp_delivery")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub process_id: String,
    pub process_type: Option<String>,
    pub user_id: String,
    pub otp_type: String,
    pub resend: bool,
    pub language: Option<String>,
    pub destination_masked: Option<String>,
    /// HMAC-SHA256 (hex) of the destination address under `privacy.hmac_key`.
    pub destination_key: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub smtp_code: Option<i32>,
    pub duration_ms: i64,
    pub created_at: DateTimeUtc,
    pub correlation_id: String,
    pub request_id: String,
    pub error_class: Option<String>,
    pub smtp_ms: Option<i64>,
    pub message_id: Option<String>,
    pub destination_source: Option<String>,
    pub mail_language: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

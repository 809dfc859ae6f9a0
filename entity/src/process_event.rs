//! Events received by `/process/event`. `event_id` (2.2 envelopes) is unique, so a repeated
//! delivery of the same event is stored once; 1.x `FINISHED` events carry no id.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "process_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub event_id: Option<String>,
    pub event_type: String,
    pub process_id: String,
    pub process_type: Option<String>,
    pub user_id: Option<String>,
    pub identity_verification_id: Option<String>,
    pub external_user_id: Option<String>,
    pub occurred_at: Option<String>,
    pub payload: Json,
    pub received_at: DateTimeUtc,
    pub correlation_id: String,
    pub request_id: String,
    /// When the payload was purged after retention.
    pub purged_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

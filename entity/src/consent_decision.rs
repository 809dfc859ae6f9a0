//! Append-only history of consent decisions received by `/consent/storage`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consent_decision")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub process_id: Option<String>,
    pub process_type: Option<String>,
    pub user_id: Option<String>,
    pub consent_type: String,
    pub approved: bool,
    pub text_version: Option<String>,
    pub decided_at: DateTimeUtc,
    pub correlation_id: String,
    pub request_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! Every consent text served by `/consent/text`, with the version (content hash) shown.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consent_text_served")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub process_id: String,
    pub process_type: Option<String>,
    pub user_id: Option<String>,
    pub consent_type: String,
    pub language_requested: Option<String>,
    pub language_served: String,
    pub text_version: String,
    pub served_at: DateTimeUtc,
    pub correlation_id: String,
    pub request_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

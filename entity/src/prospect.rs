//! Prospects created by `/user/lookup` in prospect mode for identifications the registry
//! does not know. `lookup_key` is a digest of the normalised identification, never the values.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prospect")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub lookup_key: String,
    #[sea_orm(unique)]
    pub user_id: String,
    pub process_id: String,
    pub created_at: DateTimeUtc,
    pub correlation_id: String,
    pub request_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! Images kept as evidence of a decision (document images, the approve selfie).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "evidence")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub decision_id: i64,
    pub identity_verification_id: String,
    pub decision_point: String,
    pub process_id: String,
    /// Where in the request: `documents[0].images[1]` or `presenceCheckResult.frame`.
    pub source: String,
    /// `FACE`, `DOCUMENT_FRONT_SIDE`, `DOCUMENT_BACK_SIDE`, `SELFIE`.
    pub image_type: Option<String>,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    /// `database` (bytes in `data`) or `folder` (bytes in `file_name` under the folder).
    pub storage: String,
    pub data: Option<Vec<u8>>,
    pub file_name: Option<String>,
    pub created_at: DateTimeUtc,
    pub correlation_id: String,
    pub request_id: String,
    /// When the image was purged after retention (a `file_name` still set: its file is
    /// still to be deleted).
    pub purged_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

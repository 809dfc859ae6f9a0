//! Images received with evaluate (document images) and approve (the selfie frame), kept as
//! evidence of the decision they were part of. The bytes live in the row (default) or in a
//! configured folder (then only the file name is stored). Unique per decision and source,
//! so a retried write never stores an image twice.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // MySQL's BLOB holds 64 KiB only; images need LONGBLOB (4 GiB).
        let mut data = ColumnDef::new(Evidence::Data);
        match manager.get_database_backend() {
            sea_orm::DatabaseBackend::MySql => data.custom(Alias::new("LONGBLOB")),
            _ => data.blob(),
        }
        .null();
        manager
            .create_table(
                Table::create()
                    .table(Evidence::Table)
                    .if_not_exists()
                    .col(big_integer(Evidence::Id).auto_increment().primary_key())
                    .col(big_integer(Evidence::DecisionId))
                    .col(string_len(Evidence::IdentityVerificationId, 128))
                    .col(string_len(Evidence::DecisionPoint, 16))
                    .col(string_len(Evidence::ProcessId, 128))
                    .col(string_len(Evidence::Source, 64))
                    .col(string_len_null(Evidence::ImageType, 64))
                    .col(string_len(Evidence::MediaType, 32))
                    .col(big_integer(Evidence::SizeBytes))
                    .col(string_len(Evidence::Sha256, 64))
                    .col(string_len(Evidence::Storage, 16))
                    .col(data)
                    .col(string_len_null(Evidence::FileName, 255))
                    .col(timestamp_with_time_zone(Evidence::CreatedAt))
                    .col(string_len(Evidence::CorrelationId, 128))
                    .col(string_len(Evidence::RequestId, 128))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_evidence_decision")
                            .from(Evidence::Table, Evidence::DecisionId)
                            .to(Decision::Table, Decision::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_evidence_source")
                    .table(Evidence::Table)
                    .col(Evidence::DecisionId)
                    .col(Evidence::Source)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_evidence_verification")
                    .table(Evidence::Table)
                    .col(Evidence::IdentityVerificationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Evidence::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Evidence {
    Table,
    Id,
    DecisionId,
    IdentityVerificationId,
    DecisionPoint,
    ProcessId,
    Source,
    ImageType,
    MediaType,
    SizeBytes,
    Sha256,
    Storage,
    Data,
    FileName,
    CreatedAt,
    CorrelationId,
    RequestId,
}

#[derive(DeriveIden)]
enum Decision {
    Table,
    Id,
}

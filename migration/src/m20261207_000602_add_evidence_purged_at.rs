//! Evidence records when its image (bytes or file) was purged after retention: a row
//! purged whose `file_name` is still set has a file left to delete; an index on the
//! image's time finds the rows past retention.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Evidence::Table)
                    .add_column(timestamp_with_time_zone_null(Evidence::PurgedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_evidence_created_at")
                    .table(Evidence::Table)
                    .col(Evidence::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_evidence_created_at")
                    .table(Evidence::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Evidence::Table)
                    .drop_column(Evidence::PurgedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Evidence {
    Table,
    PurgedAt,
    CreatedAt,
}

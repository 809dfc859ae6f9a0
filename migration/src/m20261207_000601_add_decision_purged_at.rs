//! Decisions record when their personal data (input summary, facts) was purged after
//! retention; an index on the decision's time finds the rows past retention.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Decision::Table)
                    .add_column(timestamp_with_time_zone_null(Decision::PurgedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_decision_created_at")
                    .table(Decision::Table)
                    .col(Decision::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_decision_created_at")
                    .table(Decision::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Decision::Table)
                    .drop_column(Decision::PurgedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Decision {
    Table,
    PurgedAt,
    CreatedAt,
}

//! Process events record when their payload was purged after retention; an index on the
//! time of receipt finds the rows past retention.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ProcessEvent::Table)
                    .add_column(timestamp_with_time_zone_null(ProcessEvent::PurgedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_process_event_received_at")
                    .table(ProcessEvent::Table)
                    .col(ProcessEvent::ReceivedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_process_event_received_at")
                    .table(ProcessEvent::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProcessEvent::Table)
                    .drop_column(ProcessEvent::PurgedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ProcessEvent {
    Table,
    PurgedAt,
    ReceivedAt,
}

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProcessEvent::Table)
                    .if_not_exists()
                    .col(big_integer(ProcessEvent::Id).auto_increment().primary_key())
                    .col(string_len_null(ProcessEvent::EventId, 128).unique_key())
                    .col(string_len(ProcessEvent::EventType, 64))
                    .col(string_len(ProcessEvent::ProcessId, 128))
                    .col(string_len_null(ProcessEvent::ProcessType, 64))
                    .col(string_len_null(ProcessEvent::UserId, 128))
                    .col(string_len_null(ProcessEvent::IdentityVerificationId, 128))
                    .col(string_len_null(ProcessEvent::ExternalUserId, 128))
                    .col(string_len_null(ProcessEvent::OccurredAt, 64))
                    .col(json(ProcessEvent::Payload))
                    .col(timestamp_with_time_zone(ProcessEvent::ReceivedAt))
                    .col(string_len(ProcessEvent::CorrelationId, 128))
                    .col(string_len(ProcessEvent::RequestId, 128))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_process_event_process")
                    .table(ProcessEvent::Table)
                    .col(ProcessEvent::ProcessId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProcessEvent::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ProcessEvent {
    Table,
    Id,
    EventId,
    EventType,
    ProcessId,
    ProcessType,
    UserId,
    IdentityVerificationId,
    ExternalUserId,
    OccurredAt,
    Payload,
    ReceivedAt,
    CorrelationId,
    RequestId,
}

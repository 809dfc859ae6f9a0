use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OutboxMessage::Table)
                    .if_not_exists()
                    .col(
                        big_integer(OutboxMessage::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(big_integer_uniq(OutboxMessage::ReviewCaseId))
                    .col(string_len(OutboxMessage::Path, 255))
                    .col(json(OutboxMessage::Payload))
                    .col(string_len(OutboxMessage::Status, 24))
                    .col(integer(OutboxMessage::Attempts).default(0))
                    .col(boolean(OutboxMessage::Uncertain).default(false))
                    .col(timestamp_with_time_zone(OutboxMessage::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(OutboxMessage::LeaseUntil))
                    .col(string_len_null(OutboxMessage::LeaseOwner, 64))
                    .col(timestamp_with_time_zone(OutboxMessage::GiveUpAt))
                    .col(integer_null(OutboxMessage::LastHttpStatus))
                    .col(string_len_null(OutboxMessage::LastError, 512))
                    .col(string_len_null(OutboxMessage::ResponseResult, 8))
                    .col(string_len_null(OutboxMessage::ResponseReason, 512))
                    .col(timestamp_with_time_zone(OutboxMessage::CreatedAt))
                    .col(timestamp_with_time_zone_null(OutboxMessage::CompletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_due")
                    .table(OutboxMessage::Table)
                    .col(OutboxMessage::Status)
                    .col(OutboxMessage::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OutboxMessage::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OutboxMessage {
    Table,
    Id,
    ReviewCaseId,
    Path,
    Payload,
    Status,
    Attempts,
    Uncertain,
    NextAttemptAt,
    LeaseUntil,
    LeaseOwner,
    GiveUpAt,
    LastHttpStatus,
    LastError,
    ResponseResult,
    ResponseReason,
    CreatedAt,
    CompletedAt,
}

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Process::Table)
                    .if_not_exists()
                    .col(string_len(Process::ProcessId, 128).primary_key())
                    .col(string_len_null(Process::ProcessType, 64))
                    .col(string_len_null(Process::UserId, 128))
                    .col(string_len_null(Process::IdentityVerificationId, 128))
                    .col(string_len(Process::LastCallback, 32))
                    .col(timestamp_with_time_zone(Process::FirstSeenAt))
                    .col(timestamp_with_time_zone(Process::LastSeenAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_process_user_id")
                    .table(Process::Table)
                    .col(Process::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Process::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Process {
    Table,
    ProcessId,
    ProcessType,
    UserId,
    IdentityVerificationId,
    LastCallback,
    FirstSeenAt,
    LastSeenAt,
}

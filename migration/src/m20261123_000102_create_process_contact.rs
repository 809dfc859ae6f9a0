//! The e-mail address a `/user/lookup` identification carried, kept per process as the
//! OTP fallback address for users the registry has no address for.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProcessContact::Table)
                    .if_not_exists()
                    .col(
                        big_integer(ProcessContact::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(string_len_uniq(ProcessContact::ProcessId, 128))
                    .col(string_len(ProcessContact::UserId, 128))
                    .col(string_len(ProcessContact::Email, 320))
                    .col(timestamp_with_time_zone(ProcessContact::CreatedAt))
                    .col(timestamp_with_time_zone(ProcessContact::UpdatedAt))
                    .col(string_len(ProcessContact::CorrelationId, 128))
                    .col(string_len(ProcessContact::RequestId, 128))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProcessContact::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ProcessContact {
    Table,
    Id,
    ProcessId,
    UserId,
    Email,
    CreatedAt,
    UpdatedAt,
    CorrelationId,
    RequestId,
}

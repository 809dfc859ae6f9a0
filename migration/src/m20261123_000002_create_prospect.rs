use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Prospect::Table)
                    .if_not_exists()
                    .col(big_integer(Prospect::Id).auto_increment().primary_key())
                    .col(string_len_uniq(Prospect::LookupKey, 64))
                    .col(string_len_uniq(Prospect::UserId, 128))
                    .col(string_len(Prospect::ProcessId, 128))
                    .col(timestamp_with_time_zone(Prospect::CreatedAt))
                    .col(string_len(Prospect::CorrelationId, 128))
                    .col(string_len(Prospect::RequestId, 128))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Prospect::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Prospect {
    Table,
    Id,
    LookupKey,
    UserId,
    ProcessId,
    CreatedAt,
    CorrelationId,
    RequestId,
}

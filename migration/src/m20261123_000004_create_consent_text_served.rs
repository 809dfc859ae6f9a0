use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConsentTextServed::Table)
                    .if_not_exists()
                    .col(
                        big_integer(ConsentTextServed::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(string_len(ConsentTextServed::ProcessId, 128))
                    .col(string_len_null(ConsentTextServed::ProcessType, 64))
                    .col(string_len_null(ConsentTextServed::UserId, 128))
                    .col(string_len(ConsentTextServed::ConsentType, 64))
                    .col(string_len_null(ConsentTextServed::LanguageRequested, 16))
                    .col(string_len(ConsentTextServed::LanguageServed, 16))
                    .col(string_len(ConsentTextServed::TextVersion, 64))
                    .col(timestamp_with_time_zone(ConsentTextServed::ServedAt))
                    .col(string_len(ConsentTextServed::CorrelationId, 128))
                    .col(string_len(ConsentTextServed::RequestId, 128))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consent_text_served_process")
                    .table(ConsentTextServed::Table)
                    .col(ConsentTextServed::ProcessId)
                    .col(ConsentTextServed::ConsentType)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConsentTextServed::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ConsentTextServed {
    Table,
    Id,
    ProcessId,
    ProcessType,
    UserId,
    ConsentType,
    LanguageRequested,
    LanguageServed,
    TextVersion,
    ServedAt,
    CorrelationId,
    RequestId,
}

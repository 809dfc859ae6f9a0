use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConsentDecision::Table)
                    .if_not_exists()
                    .col(
                        big_integer(ConsentDecision::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(string_len_null(ConsentDecision::ProcessId, 128))
                    .col(string_len_null(ConsentDecision::ProcessType, 64))
                    .col(string_len_null(ConsentDecision::UserId, 128))
                    .col(string_len(ConsentDecision::ConsentType, 64))
                    .col(boolean(ConsentDecision::Approved))
                    .col(string_len_null(ConsentDecision::TextVersion, 64))
                    .col(timestamp_with_time_zone(ConsentDecision::DecidedAt))
                    .col(string_len(ConsentDecision::CorrelationId, 128))
                    .col(string_len(ConsentDecision::RequestId, 128))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consent_decision_user")
                    .table(ConsentDecision::Table)
                    .col(ConsentDecision::UserId)
                    .col(ConsentDecision::ConsentType)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConsentDecision::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ConsentDecision {
    Table,
    Id,
    ProcessId,
    ProcessType,
    UserId,
    ConsentType,
    Approved,
    TextVersion,
    DecidedAt,
    CorrelationId,
    RequestId,
}

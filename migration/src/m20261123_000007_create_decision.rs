use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Decision::Table)
                    .if_not_exists()
                    .col(big_integer(Decision::Id).auto_increment().primary_key())
                    .col(string_len(Decision::IdentityVerificationId, 128))
                    .col(string_len(Decision::DecisionPoint, 16))
                    .col(string_len(Decision::InputDigest, 64))
                    .col(string_len(Decision::ProcessId, 128))
                    .col(string_len_null(Decision::ProcessType, 64))
                    .col(string_len(Decision::UserId, 128))
                    .col(string_len_null(Decision::Provider, 64))
                    .col(string_len_null(Decision::Status, 32))
                    .col(string_len_null(Decision::VerificationId, 128))
                    .col(json(Decision::InputSummary))
                    .col(string_len(Decision::Outcome, 8))
                    .col(string_len(Decision::ResultReason, 255))
                    .col(string_len(Decision::PolicyVersion, 64))
                    .col(json(Decision::RuleTrace))
                    .col(big_integer(Decision::DurationUs))
                    .col(timestamp_with_time_zone(Decision::CreatedAt))
                    .col(string_len(Decision::CorrelationId, 128))
                    .col(string_len(Decision::RequestId, 128))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_decision_call")
                    .table(Decision::Table)
                    .col(Decision::IdentityVerificationId)
                    .col(Decision::DecisionPoint)
                    .col(Decision::InputDigest)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_decision_process")
                    .table(Decision::Table)
                    .col(Decision::ProcessId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Decision::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Decision {
    Table,
    Id,
    IdentityVerificationId,
    DecisionPoint,
    InputDigest,
    ProcessId,
    ProcessType,
    UserId,
    Provider,
    Status,
    VerificationId,
    InputSummary,
    Outcome,
    ResultReason,
    PolicyVersion,
    RuleTrace,
    DurationUs,
    CreatedAt,
    CorrelationId,
    RequestId,
}

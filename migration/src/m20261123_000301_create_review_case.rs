use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReviewCase::Table)
                    .if_not_exists()
                    .col(big_integer(ReviewCase::Id).auto_increment().primary_key())
                    .col(string_len(ReviewCase::IdentityVerificationId, 128))
                    .col(string_len(ReviewCase::DecisionPoint, 16))
                    .col(big_integer(ReviewCase::DecisionId))
                    .col(string_len(ReviewCase::ProcessId, 128))
                    .col(string_len_null(ReviewCase::ProcessType, 64))
                    .col(string_len(ReviewCase::UserId, 128))
                    .col(string_len(ReviewCase::Status, 16))
                    .col(string_len(ReviewCase::WaitReason, 255))
                    .col(json(ReviewCase::Facts))
                    .col(json(ReviewCase::RuleTrace))
                    .col(timestamp_with_time_zone(ReviewCase::DeadlineAt))
                    .col(timestamp_with_time_zone(ReviewCase::CreatedAt))
                    .col(timestamp_with_time_zone_null(ReviewCase::ResolvedAt))
                    .col(string_len_null(ReviewCase::ResolvedBy, 128))
                    .col(string_len_null(ReviewCase::Resolution, 8))
                    .col(string_len_null(ReviewCase::ResolutionReason, 255))
                    .col(text_null(ReviewCase::Note))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_review_case_verification")
                    .table(ReviewCase::Table)
                    .col(ReviewCase::IdentityVerificationId)
                    .col(ReviewCase::DecisionPoint)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_review_case_status")
                    .table(ReviewCase::Table)
                    .col(ReviewCase::Status)
                    .col(ReviewCase::DeadlineAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReviewCase::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ReviewCase {
    Table,
    Id,
    IdentityVerificationId,
    DecisionPoint,
    DecisionId,
    ProcessId,
    ProcessType,
    UserId,
    Status,
    WaitReason,
    Facts,
    RuleTrace,
    DeadlineAt,
    CreatedAt,
    ResolvedAt,
    ResolvedBy,
    Resolution,
    ResolutionReason,
    Note,
}

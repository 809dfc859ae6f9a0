use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OtpDelivery::Table)
                    .if_not_exists()
                    .col(big_integer(OtpDelivery::Id).auto_increment().primary_key())
                    .col(string_len(OtpDelivery::ProcessId, 128))
                    .col(string_len_null(OtpDelivery::ProcessType, 64))
                    .col(string_len(OtpDelivery::UserId, 128))
                    .col(string_len(OtpDelivery::OtpType, 32))
                    .col(boolean(OtpDelivery::Resend))
                    .col(string_len_null(OtpDelivery::Language, 16))
                    .col(string_len_null(OtpDelivery::DestinationMasked, 255))
                    .col(string_len(OtpDelivery::Outcome, 32))
                    .col(string_len_null(OtpDelivery::Detail, 255))
                    .col(integer_null(OtpDelivery::SmtpCode))
                    .col(big_integer(OtpDelivery::DurationMs))
                    .col(timestamp_with_time_zone(OtpDelivery::CreatedAt))
                    .col(string_len(OtpDelivery::CorrelationId, 128))
                    .col(string_len(OtpDelivery::RequestId, 128))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_otp_delivery_process")
                    .table(OtpDelivery::Table)
                    .col(OtpDelivery::ProcessId)
                    .col(OtpDelivery::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_otp_delivery_user")
                    .table(OtpDelivery::Table)
                    .col(OtpDelivery::UserId)
                    .col(OtpDelivery::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OtpDelivery::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OtpDelivery {
    Table,
    Id,
    ProcessId,
    ProcessType,
    UserId,
    OtpType,
    Resend,
    Language,
    DestinationMasked,
    Outcome,
    Detail,
    SmtpCode,
    DurationMs,
    CreatedAt,
    CorrelationId,
    RequestId,
}

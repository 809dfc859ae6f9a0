//! OTP deliveries keep a keyed hash of the destination address (HMAC-SHA256 under
//! `privacy.hmac_key`, never the address itself), so the send cap per destination can count
//! one address's attempts across processes and users; and an index on the time of each
//! attempt for the global cap.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OtpDelivery::Table)
                    .add_column(string_len_null(OtpDelivery::DestinationKey, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_otp_delivery_destination_key")
                    .table(OtpDelivery::Table)
                    .col(OtpDelivery::DestinationKey)
                    .col(OtpDelivery::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_otp_delivery_created_at")
                    .table(OtpDelivery::Table)
                    .col(OtpDelivery::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "idx_otp_delivery_created_at",
            "idx_otp_delivery_destination_key",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(OtpDelivery::Table)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(OtpDelivery::Table)
                    .drop_column(OtpDelivery::DestinationKey)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum OtpDelivery {
    Table,
    DestinationKey,
    CreatedAt,
}

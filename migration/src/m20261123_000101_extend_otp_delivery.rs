//! OTP delivery records gain what an SMTP delivery needs for tracing: the error class, the
//! time spent talking SMTP, the `Message-ID`, where the address came from and the language
//! of the message sent. One column per statement (SQLite alters one at a time).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            string_len_null(OtpDelivery::ErrorClass, 32),
            big_integer_null(OtpDelivery::SmtpMs),
            string_len_null(OtpDelivery::MessageId, 255),
            string_len_null(OtpDelivery::DestinationSource, 32),
            string_len_null(OtpDelivery::MailLanguage, 16),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(OtpDelivery::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            OtpDelivery::ErrorClass,
            OtpDelivery::SmtpMs,
            OtpDelivery::MessageId,
            OtpDelivery::DestinationSource,
            OtpDelivery::MailLanguage,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(OtpDelivery::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum OtpDelivery {
    Table,
    ErrorClass,
    SmtpMs,
    MessageId,
    DestinationSource,
    MailLanguage,
}

//! Outbox messages keep the W3C `traceparent` of the request that caused them (so the
//! delivery, however much later it runs, continues that request's trace) and the class of
//! their last outcome (delivered, already applied, rejected, auth failed, retryable, gave
//! up), which the back office shows and alerts on.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            string_len_null(OutboxMessage::Traceparent, 64),
            string_len_null(OutboxMessage::OutcomeClass, 32),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(OutboxMessage::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [OutboxMessage::Traceparent, OutboxMessage::OutcomeClass] {
            manager
                .alter_table(
                    Table::alter()
                        .table(OutboxMessage::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum OutboxMessage {
    Table,
    Traceparent,
    OutcomeClass,
}

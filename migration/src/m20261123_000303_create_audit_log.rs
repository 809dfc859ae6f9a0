use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(big_integer(AuditLog::Id).auto_increment().primary_key())
                    .col(string_len(AuditLog::Actor, 128))
                    .col(string_len(AuditLog::Role, 16))
                    .col(string_len(AuditLog::Action, 64))
                    .col(string_len_null(AuditLog::Target, 128))
                    .col(json(AuditLog::Detail))
                    .col(timestamp_with_time_zone(AuditLog::At))
                    .col(string_len(AuditLog::CorrelationId, 128))
                    .col(string_len(AuditLog::RequestId, 128))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    Actor,
    Role,
    Action,
    Target,
    Detail,
    At,
    CorrelationId,
    RequestId,
}

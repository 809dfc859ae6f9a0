//! Decisions keep the fact set the policy read and the reason codes it produced, so a
//! decision can be explained and replayed against another policy version.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [json_null(Decision::Facts), json_null(Decision::ReasonCodes)] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Decision::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Decision::Facts, Decision::ReasonCodes] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Decision::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Decision {
    Table,
    Facts,
    ReasonCodes,
}

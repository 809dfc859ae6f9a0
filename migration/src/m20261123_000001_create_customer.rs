use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Customer::Table)
                    .if_not_exists()
                    .col(big_integer(Customer::Id).auto_increment().primary_key())
                    .col(string_len_uniq(Customer::UserId, 128))
                    .col(string_len_null(Customer::ClientNumber, 128))
                    .col(string_len_null(Customer::BirthDate, 10))
                    .col(string_len_null(Customer::GivenNames, 255))
                    .col(string_len_null(Customer::Surname, 255))
                    .col(string_len_null(Customer::Email, 255))
                    .col(string_len_null(Customer::PhoneNumber, 32))
                    .col(string_len_null(Customer::Language, 8))
                    .col(boolean(Customer::Active).default(true))
                    .col(timestamp_with_time_zone(Customer::CreatedAt))
                    .col(timestamp_with_time_zone(Customer::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_customer_client_number")
                    .table(Customer::Table)
                    .col(Customer::ClientNumber)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_customer_email")
                    .table(Customer::Table)
                    .col(Customer::Email)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Customer::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Customer {
    Table,
    Id,
    UserId,
    ClientNumber,
    BirthDate,
    GivenNames,
    Surname,
    Email,
    PhoneNumber,
    Language,
    Active,
    CreatedAt,
    UpdatedAt,
}

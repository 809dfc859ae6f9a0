//! The customer registry.

use chrono::{DateTime, Utc};
use entity::customer;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect,
};

use crate::domain::identification::{LookupKey, LookupQuery};

/// A registry entry as imported (CSV/JSON) or seeded.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCustomer {
    pub user_id: String,
    #[serde(default)]
    pub client_number: Option<String>,
    #[serde(default)]
    pub birth_date: Option<String>,
    #[serde(default)]
    pub given_names: Option<String>,
    #[serde(default)]
    pub surname: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

fn column(key: LookupKey) -> customer::Column {
    match key {
        LookupKey::ClientNumber => customer::Column::ClientNumber,
        LookupKey::BirthDate => customer::Column::BirthDate,
        LookupKey::Email => customer::Column::Email,
        LookupKey::PhoneNumber => customer::Column::PhoneNumber,
        LookupKey::UserId => customer::Column::UserId,
    }
}

fn normalised(key: LookupKey, value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(|v| key.normalise(v))
        .filter(|v| !v.is_empty())
}

/// The active customer matching every value of `query`, if exactly one does.
///
/// # Errors
/// Database errors.
pub async fn find_by_query(db: &impl ConnectionTrait, query: &LookupQuery) -> Result<Match, DbErr> {
    let mut select = customer::Entity::find().filter(customer::Column::Active.eq(true));
    for (key, value) in &query.values {
        select = select.filter(column(*key).eq(value.as_str()));
    }
    let mut found = select.limit(16).all(db).await?;
    Ok(match found.len() {
        0 => Match::None,
        1 => found.pop().map_or(Match::None, |c| Match::One(Box::new(c))),
        // Two registry entries sharing the identification is a data problem; refuse to pick.
        several => Match::Several(several),
    })
}

/// What an identification matches in the registry.
#[derive(Debug)]
pub enum Match {
    None,
    One(Box<customer::Model>),
    /// Several active entries (at most 16 are counted): nobody is picked.
    Several(usize),
}

/// # Errors
/// Database errors.
pub async fn find_by_user_id(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Option<customer::Model>, DbErr> {
    customer::Entity::find()
        .filter(customer::Column::UserId.eq(user_id))
        .one(db)
        .await
}

/// Inserts or updates (by `userId`) one registry entry, normalising the matchable values.
///
/// # Errors
/// Database errors.
pub async fn upsert(
    db: &impl ConnectionTrait,
    c: &NewCustomer,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let model = customer::ActiveModel {
        user_id: Set(c.user_id.trim().to_owned()),
        client_number: Set(normalised(LookupKey::ClientNumber, &c.client_number)),
        birth_date: Set(normalised(LookupKey::BirthDate, &c.birth_date)),
        given_names: Set(c.given_names.clone()),
        surname: Set(c.surname.clone()),
        email: Set(normalised(LookupKey::Email, &c.email)),
        phone_number: Set(normalised(LookupKey::PhoneNumber, &c.phone_number)),
        language: Set(c.language.clone()),
        active: Set(c.active.unwrap_or(true)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    customer::Entity::insert(model)
        .on_conflict(
            OnConflict::column(customer::Column::UserId)
                .update_columns([
                    customer::Column::ClientNumber,
                    customer::Column::BirthDate,
                    customer::Column::GivenNames,
                    customer::Column::Surname,
                    customer::Column::Email,
                    customer::Column::PhoneNumber,
                    customer::Column::Language,
                    customer::Column::Active,
                    customer::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// # Errors
/// Database errors.
pub async fn count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    customer::Entity::find().count(db).await
}

//! Demo customers, seeded into an empty registry in demo mode so that `cargo run` answers
//! meaningfully with no set-up.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::storage::customers::{self, NewCustomer};

pub fn customers() -> Vec<NewCustomer> {
    let c = |user_id: &str,
             client: &str,
             birth: &str,
             given: &str,
             surname: &str,
             email: &str,
             lang: &str| NewCustomer {
        user_id: user_id.into(),
        client_number: Some(client.into()),
        birth_date: Some(birth.into()),
        given_names: Some(given.into()),
        surname: Some(surname.into()),
        email: Some(email.into()),
        phone_number: None,
        language: Some(lang.into()),
        active: Some(true),
    };
    vec![
        c(
            "C-1001",
            "12345678",
            "1985-03-02",
            "JAN",
            "NOVÁK",
            "jan.novak@example.com",
            "cs",
        ),
        c(
            "C-1002",
            "23456789",
            "1990-11-20",
            "JANA",
            "NOVÁKOVÁ",
            "jana.novakova@example.com",
            "cs",
        ),
        c(
            "C-1003",
            "34567890",
            "1978-06-15",
            "JOHN",
            "SMITH",
            "john.smith@example.com",
            "en",
        ),
    ]
}

/// Seeds the demo customers when the registry is empty.
///
/// # Errors
/// Database errors.
pub async fn seed(db: &impl ConnectionTrait, now: DateTime<Utc>) -> anyhow::Result<usize> {
    if customers::count(db).await? > 0 {
        return Ok(0);
    }
    let demo = customers();
    for customer in &demo {
        customers::upsert(db, customer, now).await?;
    }
    tracing::warn!(
        customers = demo.len(),
        "demo mode: seeded demo customers into the empty registry"
    );
    Ok(demo.len())
}

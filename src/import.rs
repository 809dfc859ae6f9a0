//! `import-customers FILE`: loads customers from CSV (header row with the camelCase field
//! names) or JSON (an array of objects) into the registry. Every row is validated first;
//! the import is one transaction, so a bad file changes nothing.

use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::storage::customers::{self, NewCustomer};

/// Reads and validates `path` (`.csv` or `.json`).
///
/// # Errors
/// A message naming the file, the row and the problem.
pub fn read(path: &Path) -> anyhow::Result<Vec<NewCustomer>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let rows: Vec<NewCustomer> = match ext.as_deref() {
        Some("csv") => {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_path(path)
                .with_context(|| format!("Failed to open {}", path.display()))?;
            let mut rows = Vec::new();
            for (i, row) in reader.deserialize::<CsvCustomer>().enumerate() {
                let row = row.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
                rows.push(row.into());
            }
            rows
        }
        Some("json") => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("Failed to read {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{}: not a JSON array of customers", path.display()))?
        }
        _ => bail!("{}: expected a .csv or .json file", path.display()),
    };
    for (i, c) in rows.iter().enumerate() {
        validate(c).with_context(|| format!("{}: record {}", path.display(), i + 1))?;
    }
    let mut seen = std::collections::HashSet::new();
    for c in &rows {
        if !seen.insert(c.user_id.trim()) {
            bail!(
                "{}: userId {} appears twice",
                path.display(),
                c.user_id.trim()
            );
        }
    }
    Ok(rows)
}

fn validate(c: &NewCustomer) -> anyhow::Result<()> {
    if c.user_id.trim().is_empty() {
        bail!("userId is empty");
    }
    if c.user_id.len() > 128 {
        bail!("userId is longer than 128 characters");
    }
    if let Some(d) = c.birth_date.as_deref().filter(|d| !d.trim().is_empty()) {
        NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .with_context(|| "birthDate must be YYYY-MM-DD")?;
    }
    if let Some(e) = c.email.as_deref().filter(|e| !e.trim().is_empty())
        && !e.contains('@')
    {
        bail!("email is not an e-mail address");
    }
    Ok(())
}

/// Imports `rows` in one transaction (insert, or update by `userId`).
///
/// # Errors
/// Database errors; nothing is imported then.
pub async fn import(
    db: &DatabaseConnection,
    rows: &[NewCustomer],
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let txn = db.begin().await?;
    for row in rows {
        customers::upsert(&txn, row, now).await?;
    }
    txn.commit().await?;
    Ok(rows.len())
}

/// CSV rows: every column optional but `userId`; empty cells are absent values.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CsvCustomer {
    user_id: String,
    #[serde(default)]
    client_number: Option<String>,
    #[serde(default)]
    birth_date: Option<String>,
    #[serde(default)]
    given_names: Option<String>,
    #[serde(default)]
    surname: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone_number: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    active: Option<bool>,
}

impl From<CsvCustomer> for NewCustomer {
    fn from(c: CsvCustomer) -> Self {
        let some = |v: Option<String>| v.filter(|s| !s.is_empty());
        NewCustomer {
            user_id: c.user_id,
            client_number: some(c.client_number),
            birth_date: some(c.birth_date),
            given_names: some(c.given_names),
            surname: some(c.surname),
            email: some(c.email),
            phone_number: some(c.phone_number),
            language: some(c.language),
            active: c.active,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_read_with_empty_cells_as_absent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.csv");
        std::fs::write(
            &file,
            "userId,clientNumber,birthDate,email\nC-1, 111 ,1990-01-01,a@example.com\nC-2,222,,\n",
        )
        .expect("write");
        let rows = read(&file).expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].client_number.as_deref(), Some("111"));
        assert_eq!(rows[1].birth_date, None);
        assert_eq!(rows[1].email, None);
    }

    #[test]
    fn a_bad_row_rejects_the_whole_file_with_its_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.json");
        std::fs::write(
            &file,
            r#"[{"userId":"C-1"},{"userId":"C-2","birthDate":"02.03.1985"}]"#,
        )
        .expect("write");
        let err = format!("{:#}", read(&file).expect_err("invalid date"));
        assert!(
            err.contains("record 2") && err.contains("birthDate"),
            "{err}"
        );
        std::fs::write(&file, r#"[{"userId":"C-1"},{"userId":"C-1"}]"#).expect("write");
        let err = format!("{:#}", read(&file).expect_err("duplicate"));
        assert!(err.contains("appears twice"), "{err}");
    }
}

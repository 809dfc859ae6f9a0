//! Use cases, one module each: what a request does, as one unit of work.
//!
//! A service opens the request's one database transaction ([`Database::begin`]), runs every
//! read-for-update and write of the request through it, calls the pure domain for the
//! rules, and commits before it returns: the route answers only what is committed. A
//! failure anywhere drops the transaction, which rolls everything back, so an identical
//! repeat starts from a clean state. Services know nothing of HTTP: they return [`Error`],
//! which the routes map to the wire.
//!
//! [`Database::begin`]: crate::storage::Database::begin

pub mod consent;
pub mod decide;
pub mod events;
pub mod lookup;
pub mod otp;
pub mod outbox;
pub mod policy;
pub mod retention;
pub mod review;

use sea_orm::DbErr;

/// The answer to a decided call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `OK`, `NOK` or `WAIT`.
    pub outcome: String,
    pub result_reason: String,
}

/// Why a use case did not complete. Nothing it wrote is kept.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// What the request names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (e.g. a case no longer open).
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be used right now; the caller may retry.
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or a broken dependency.
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if crate::storage::is_unavailable(&err) {
            Self::Unavailable(err.into())
        } else {
            Self::Unexpected(err.into())
        }
    }
}

impl Error {
    /// An error of a helper that returns `anyhow`: an unavailable database stays
    /// [`Error::Unavailable`], anything else is unexpected.
    pub fn from_anyhow(err: anyhow::Error) -> Self {
        match err.downcast::<DbErr>() {
            Ok(db) => Self::from(db),
            Err(other) => Self::Unexpected(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unavailable_database_behind_anyhow_is_still_unavailable() {
        let down = DbErr::Conn(sea_orm::RuntimeErr::Internal("connection refused".into()));
        let err = Error::from_anyhow(anyhow::Error::new(down));
        assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
        let err = Error::from_anyhow(anyhow::anyhow!("evidence file missing"));
        assert!(matches!(err, Error::Unexpected(_)), "{err:?}");
    }
}

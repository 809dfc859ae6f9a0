//! Pure domain logic: no actix, no database, no I/O.

pub mod consent;
pub mod delivery;
pub mod facts;
pub mod identification;
pub mod identity;
pub mod images;
pub mod otp_delivery;
pub mod policy;
pub mod pseudonym;
pub mod verification;

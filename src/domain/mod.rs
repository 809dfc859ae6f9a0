//! Pure domain logic: no actix, no database, no I/O.

pub mod consent;
pub mod identification;
pub mod otp_delivery;
pub mod facts;
pub mod images;
pub mod policy;

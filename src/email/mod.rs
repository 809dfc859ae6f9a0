//! E-mail delivery of OTP codes: templates per language and OTP type
//! ([`templates::MailTemplates`]) and the SMTP transport ([`mailer::Mailer`]).

pub mod mailer;
pub mod templates;

pub use mailer::{FailureClass, Mailer, OutgoingMail, SendFailure, SendReport};
pub use templates::{MailTemplates, Values};

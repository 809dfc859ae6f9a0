//! sea-orm entities of onboarding-adapter: plain table mappings, no behaviour.
//!
//! Behaviour (finders, invariants, conversions) lives in the server's `persistence` module;
//! wire shapes live in its `api` module. Entities are never serialised onto the wire.

pub mod audit_log;
pub mod consent_decision;
pub mod consent_text_served;
pub mod customer;
pub mod decision;
pub mod evidence;
pub mod otp_delivery;
pub mod outbox_message;
pub mod process;
pub mod process_contact;
pub mod process_event;
pub mod prospect;
pub mod review_case;

pub mod prelude {
    pub use super::audit_log::Entity as AuditLog;
    pub use super::consent_decision::Entity as ConsentDecision;
    pub use super::consent_text_served::Entity as ConsentTextServed;
    pub use super::customer::Entity as Customer;
    pub use super::decision::Entity as Decision;
    pub use super::evidence::Entity as Evidence;
    pub use super::otp_delivery::Entity as OtpDelivery;
    pub use super::outbox_message::Entity as OutboxMessage;
    pub use super::process::Entity as Process;
    pub use super::process_contact::Entity as ProcessContact;
    pub use super::process_event::Entity as ProcessEvent;
    pub use super::prospect::Entity as Prospect;
    pub use super::review_case::Entity as ReviewCase;
}

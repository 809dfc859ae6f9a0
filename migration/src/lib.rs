#![allow(clippy::enum_variant_names)] // DeriveIden enums name the table and its columns

//! Database migrations of onboarding-adapter, one change per file.
//!
//! Run at server start-up (under a database lock, see the server's `persistence::migrate`)
//! or by hand: `cargo run -p migration -- up | down | status | fresh`.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_customer;
mod m20261123_000002_create_prospect;
mod m20261123_000003_create_process;
mod m20261123_000004_create_consent_text_served;
mod m20261123_000005_create_consent_decision;
mod m20261123_000006_create_otp_delivery;
mod m20261123_000007_create_decision;
mod m20261123_000008_create_process_event;
mod m20261123_000101_extend_otp_delivery;
mod m20261123_000102_create_process_contact;
mod m20261123_000301_create_review_case;
mod m20261123_000302_create_outbox_message;
mod m20261123_000303_create_audit_log;
mod m20261123_000401_add_decision_facts;
mod m20261123_000402_create_evidence;
mod m20261207_000501_extend_outbox_message;
mod m20261207_000502_add_otp_destination_key;
mod m20261207_000601_add_decision_purged_at;
mod m20261207_000602_add_evidence_purged_at;
mod m20261207_000603_add_process_event_purged_at;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_customer::Migration),
            Box::new(m20261123_000002_create_prospect::Migration),
            Box::new(m20261123_000003_create_process::Migration),
            Box::new(m20261123_000004_create_consent_text_served::Migration),
            Box::new(m20261123_000005_create_consent_decision::Migration),
            Box::new(m20261123_000006_create_otp_delivery::Migration),
            Box::new(m20261123_000007_create_decision::Migration),
            Box::new(m20261123_000008_create_process_event::Migration),
            Box::new(m20261123_000101_extend_otp_delivery::Migration),
            Box::new(m20261123_000102_create_process_contact::Migration),
            Box::new(m20261123_000301_create_review_case::Migration),
            Box::new(m20261123_000302_create_outbox_message::Migration),
            Box::new(m20261123_000303_create_audit_log::Migration),
            Box::new(m20261123_000401_add_decision_facts::Migration),
            Box::new(m20261123_000402_create_evidence::Migration),
            Box::new(m20261207_000501_extend_outbox_message::Migration),
            Box::new(m20261207_000502_add_otp_destination_key::Migration),
            Box::new(m20261207_000601_add_decision_purged_at::Migration),
            Box::new(m20261207_000602_add_evidence_purged_at::Migration),
            Box::new(m20261207_000603_add_process_event_purged_at::Migration),
        ]
    }
}

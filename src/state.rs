//! Shared application state handed to the handlers.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::clock::SharedClock;
use crate::configuration::Settings;
use crate::domain::consent::ConsentCatalog;
use crate::domain::policy::Decider;
use crate::email::{MailTemplates, Mailer};
use crate::persistence::writer::Writer;

#[derive(Clone)]
pub struct AppState {
    /// Reads, and writes outside the callbacks' hot path.
    pub db: DatabaseConnection,
    /// The callbacks' short indexed reads: on SQLite a connection per worker thread, read
    /// in that thread (no hand-over to a sqlx worker thread), elsewhere the pool.
    pub reads: crate::persistence::Readers,
    /// The callbacks' writes: a transaction each, acknowledged after commit (group commit
    /// on SQLite).
    pub writer: Writer,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    pub consents: Arc<ConsentCatalog>,
    /// `None` when no SMTP server is configured (nothing is mailed).
    pub mailer: Option<Arc<Mailer>>,
    pub mail_templates: Arc<MailTemplates>,
    /// The decision policy in force (reloadable) plus any compiled engines.
    pub decider: Arc<Decider>,
}

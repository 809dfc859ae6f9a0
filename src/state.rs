//! Shared application state handed to the handlers.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::configuration::Settings;
use crate::domain::consent::ConsentCatalog;
use crate::email::{MailTemplates, Mailer};
use crate::services::policy::Decider;
use crate::storage::Database;

#[derive(Clone)]
pub struct AppState {
    /// The database: each request's one transaction, and reads.
    pub db: Database,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    pub consents: Arc<ConsentCatalog>,
    /// `None` when no SMTP server is configured (nothing is mailed).
    pub mailer: Option<Arc<Mailer>>,
    pub mail_templates: Arc<MailTemplates>,
    /// The decision policy in force (reloadable) plus any compiled engines.
    pub decider: Arc<Decider>,
}

//! Settings: defaults in code, an optional TOML file, environment overrides.
//!
//! Precedence (lowest first): built-in defaults → the TOML file named by `ADAPTER_CONFIG`
//! (or `--config`) → environment variables `ADAPTER_<SECTION>__<KEY>` → `DATABASE_URL`.
//! Secrets are [`SecretString`]s and never printed.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::identification::LookupKey;

/// Username and password of the demo credentials, accepted only in demo mode (see
/// [`Settings::demo_mode`]). Published in the README, so never accepted as configured ones.
pub const DEMO_USERNAME: &str = "onboarding-server";
pub const DEMO_PASSWORD: &str = "demo-only-change-me";
/// Demo back-office users (same rule: demo mode only).
pub const DEMO_REVIEWER: (&str, &str) = ("reviewer", "demo-reviewer-change-me");
pub const DEMO_ADMIN: (&str, &str) = ("admin", "demo-admin-change-me");
/// Shortest password accepted in `auth.credentials` and `backoffice.users`.
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub correlation: CorrelationSettings,
    pub limits: LimitSettings,
    pub lookup: LookupSettings,
    pub consent: ConsentSettings,
    pub decision: DecisionSettings,
    pub review: ReviewSettings,
    pub backoffice: BackofficeSettings,
    pub onboarding_server: OnboardingServerSettings,
    pub delivery: DeliverySettings,
    pub mail: MailSettings,
    pub otp: OtpSettings,
    pub log: LogSettings,
    pub privacy: PrivacySettings,
    pub retention: RetentionSettings,
    pub throttle: ThrottleSettings,
    /// Demo mode (demo credentials, demo back-office users, demo customers). Unset: on
    /// exactly when nothing real is configured (see [`Settings::demo_mode`]); `true`
    /// insists on it (refused together with real settings); `false` never.
    pub demo: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: IpAddr,
    pub port: u16,
    /// Path prefix of the seven callbacks, e.g. `/api/v1` when the Onboarding Server's
    /// `BASE_PATH` is `https://host/api/v1`. Empty means the root.
    pub base_path: String,
    pub workers: Option<usize>,
    pub shutdown_timeout_secs: u64,
    pub keep_alive_secs: u64,
    /// Serve the OpenAPI document at `/openapi.json` and Swagger UI at `/swagger-ui/`.
    pub openapi_ui: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path?mode=rwc`, `postgres://…` or `mysql://…`. Unset: an SQLite file in
    /// `data/onboarding-adapter.sqlite`.
    #[serde(serialize_with = "serialize_secret_opt")]
    pub url: Option<SecretString>,
    pub max_connections: u32,
    pub connect_timeout_secs: u64,
    pub acquire_timeout_secs: u64,
    /// Apply pending migrations at start-up (under a database lock).
    pub migrate_on_start: bool,
    /// SQLite only: how long a write waits for the write lock held by another process
    /// (another instance, an import, a backup) before failing (503).
    pub sqlite_busy_timeout_ms: u64,
    /// SQLite only: `full` syncs the WAL to disk at every commit, so an acknowledged write
    /// survives a power loss; `normal` survives a crash of the process but not of the
    /// machine.
    pub sqlite_synchronous: SqliteSync,
}

/// SQLite's `synchronous` setting in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    Full,
    Normal,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HTTP Basic on the callbacks. Switching it off must be explicit, is logged loudly and
    /// is refused on a listener that is not a loopback address.
    pub enabled: bool,
    pub realm: String,
    /// Accepted credential pairs; several may be active at once for rotation.
    pub credentials: Vec<Credential>,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub username: String,
    #[serde(serialize_with = "serialize_secret")]
    pub password: SecretString,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationSettings {
    pub correlation_header: String,
    pub request_id_header: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Body limit of lookup, otp, consent text and consent storage.
    pub default_body_bytes: usize,
    /// Body limit of `/client/evaluate` (document images arrive base64-encoded).
    pub evaluate_body_bytes: usize,
    /// Body limit of `/client/approve` (carries the selfie frame).
    pub approve_body_bytes: usize,
    /// Body limit of `/process/event` (2.2 events can carry images).
    pub event_body_bytes: usize,
    /// Deepest nesting of arrays and objects in a body (checked while it arrives).
    pub json_max_depth: usize,
    /// Most array and object elements in a body, all levels together (checked while it
    /// arrives, before parsing).
    pub json_max_elements: usize,
    /// Most documents in one `/client/evaluate`.
    pub max_documents: usize,
    /// Most images of one document.
    pub max_images_per_document: usize,
    /// Longest text field of a document's `data` or `person`, in characters.
    pub max_text_chars: usize,
    /// Longest `rawData` of one document, in bytes.
    pub raw_data_bytes: usize,
    /// Bodies above 256 KiB read and parsed at the same time; more wait their turn before
    /// their body is read, so memory stays bounded by this many body limits.
    pub max_concurrent_large_bodies: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownUser {
    /// Answer 404 `ERROR_GENERIC`; the Onboarding Server hides it from the app.
    NotFound,
    /// Create (once) a prospect id for the identification and answer it.
    Prospect,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LookupSettings {
    /// Identification attributes that must all match a registry entry.
    pub keys: Vec<LookupKey>,
    pub unknown_user: UnknownUser,
    /// Prefix of prospect ids created in prospect mode.
    pub prospect_prefix: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentSettings {
    /// Folder with `<CONSENT_TYPE>/<language>.html` templates. Unset: the built-in texts.
    pub templates_dir: Option<PathBuf>,
    pub fallback_language: String,
    /// Consent types a user must have approved for `/user/lookup` to answer
    /// `consentRequired: false`.
    pub required_types: Vec<String>,
}

/// The answers a decision can have (defined by the domain; settings name them too).
pub use crate::domain::policy::Outcome;
use crate::domain::policy::{MAX_REASON_CODE_LEN, is_reason_code};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionSettings {
    /// The decision policy (TOML). Unset: the built-in demo policy
    /// (`assets/policy/demo.toml`). Validated at start-up; reloaded on SIGHUP.
    pub policy_file: Option<PathBuf>,
    /// Decoded size caps of one image (document image or selfie frame). Outside them the
    /// image is a fact (`valid: false`), not an error.
    pub image_min_bytes: usize,
    pub image_max_bytes: usize,
    /// Where the images of a decision are kept as evidence.
    pub evidence: EvidenceStorage,
    /// The folder for `evidence = "folder"` (created when missing).
    pub evidence_dir: Option<PathBuf>,
}

/// Where decision evidence (images) is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceStorage {
    /// In the `evidence` table (the default).
    Database,
    /// As files named by their SHA-256 in `evidence_dir`; the table keeps the metadata.
    Folder,
    /// Not kept (only size and digest are recorded with the decision).
    Off,
}

/// The WAIT loop: review cases and their deadline.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    /// A case is resolved automatically this long after it was opened …
    pub deadline_secs: u64,
    /// … or earlier, `expiry_margin_secs` before the identity verification expires
    /// (`process_expiry_secs` after the process was first seen; Onboarding Server default 1 h).
    pub process_expiry_secs: u64,
    pub expiry_margin_secs: u64,
    /// Outcome (`OK` or `NOK`) and reason code of the automatic resolution.
    pub expiry_outcome: Outcome,
    pub expiry_reason: String,
}

/// Role of a back-office user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Lists, reads and resolves review cases.
    Reviewer,
    /// Everything a reviewer can, plus the outbox (retry) and the audit log.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reviewer => "reviewer",
            Self::Admin => "admin",
        }
    }
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaffUser {
    pub username: String,
    #[serde(serialize_with = "serialize_secret")]
    pub password: SecretString,
    pub role: Role,
}

impl std::fmt::Debug for StaffUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffUser")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("role", &self.role)
            .finish()
    }
}

/// The back-office API (`/admin/...`): its own credentials and roles, never the
/// Onboarding Server's callback credentials.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackofficeSettings {
    pub realm: String,
    pub users: Vec<StaffUser>,
}

/// Where and how to call the Onboarding Server's private API after a WAIT.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OnboardingServerSettings {
    /// Base URL, e.g. `https://onboarding.bank.example/enrollment-server-onboarding`;
    /// `/api/private/client/evaluate|approve` is appended. Unset: resolutions queue up
    /// and are delivered once it is configured.
    pub url: Option<String>,
    pub username: Option<String>,
    #[serde(serialize_with = "serialize_secret_opt")]
    pub password: Option<SecretString>,
    /// A static bearer token instead of Basic auth (prefer `oauth2`: static tokens expire).
    #[serde(serialize_with = "serialize_secret_opt")]
    pub bearer_token: Option<SecretString>,
    /// A static header instead, e.g. an API key of the bank's gateway.
    pub header: Option<StaticHeader>,
    /// OAuth 2.0 client credentials (the server's `OIDC` auth type): a token from the
    /// token endpoint, cached until shortly before it expires, fetched again once when the
    /// server answers 401.
    pub oauth2: Option<OAuth2Settings>,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
    /// The Onboarding Server's JVM time zone (IANA name, e.g. `Europe/Prague`). Unset: a
    /// date it sends as an instant (epoch milliseconds) means the day whose UTC midnight
    /// is nearest, right for every zone within ±12 hours of UTC (see `api::dates`).
    pub time_zone: Option<chrono_tz::Tz>,
}

impl OnboardingServerSettings {
    /// The URL is `https://` unless it names a loopback host (credentials never travel in
    /// clear text over a network); at most one way to authenticate; OAuth 2.0 settings
    /// complete, their token endpoint under the same rule.
    ///
    /// # Errors
    /// A message naming the offending setting.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |m: &str| Err(SettingsError::Invalid(m.to_owned()));
        if let Some(url) = &self.url
            && !is_https_or_loopback(url)
        {
            return invalid(
                "onboarding_server.url must be an https:// URL (http:// only for a loopback host)",
            );
        }
        let methods = [
            self.username.is_some() || self.password.is_some(),
            self.bearer_token.is_some(),
            self.header.is_some(),
            self.oauth2.is_some(),
        ];
        if methods.iter().filter(|m| **m).count() > 1 {
            return invalid(
                "onboarding_server: configure one of username/password, bearer_token, header \
                 or oauth2",
            );
        }
        if self.password.is_some() && self.username.is_none() {
            return invalid("onboarding_server.password needs onboarding_server.username");
        }
        if let Some(h) = &self.header
            && (actix_web::http::header::HeaderName::try_from(h.name.as_str()).is_err()
                || actix_web::http::header::HeaderValue::try_from(h.value.expose_secret()).is_err())
        {
            return invalid("onboarding_server.header needs a valid header name and value");
        }
        if let Some(o) = &self.oauth2 {
            if !is_https_or_loopback(&o.token_url) {
                return invalid(
                    "onboarding_server.oauth2.token_url must be an https:// URL (http:// only \
                     for a loopback host)",
                );
            }
            if o.client_id.is_empty() || o.client_secret.expose_secret().is_empty() {
                return invalid("onboarding_server.oauth2 needs client_id and client_secret");
            }
        }
        Ok(())
    }
}

/// `https://…`, or `http://` to a loopback host (`localhost`, 127.0.0.0/8, `[::1]`).
fn is_https_or_loopback(url: &str) -> bool {
    if url.starts_with("https://") && url.len() > "https://".len() {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A header sent with every call (name and secret value).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticHeader {
    pub name: String,
    #[serde(serialize_with = "serialize_secret")]
    pub value: SecretString,
}

/// OAuth 2.0 client credentials grant (RFC 6749 §4.4).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Settings {
    /// The token endpoint, e.g. `https://idp.bank.example/oauth2/token`.
    pub token_url: String,
    pub client_id: String,
    #[serde(serialize_with = "serialize_secret")]
    pub client_secret: SecretString,
    /// Space-separated scopes, when the identity provider wants them.
    #[serde(default)]
    pub scope: Option<String>,
    /// The `audience` parameter some identity providers need (Auth0, Okta custom servers).
    #[serde(default)]
    pub audience: Option<String>,
    /// How the client authenticates at the token endpoint: `basic` (HTTP Basic, the
    /// default) or `post` (id and secret in the form).
    #[serde(default)]
    pub client_auth: OAuth2ClientAuth,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OAuth2ClientAuth {
    #[default]
    Basic,
    Post,
}

/// The outbox worker.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// Start the worker with the server (every instance may run one).
    pub worker_enabled: bool,
    pub poll_interval_ms: u64,
    /// How long a claimed message stays reserved for the worker sending it.
    pub lease_secs: u64,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Retries stop this long after the resolution; the message is then FAILED.
    pub horizon_secs: u64,
}

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// No TLS at all (a relay on the same host or a trusted segment). Refuses SMTP auth.
    Plain,
    /// Plain connect, then `STARTTLS`, which is required (default port 587).
    Starttls,
    /// TLS from the first byte, "implicit TLS" / SMTPS (default port 465).
    Tls,
}

impl SmtpTls {
    pub fn default_port(self) -> u16 {
        match self {
            Self::Plain => 25,
            Self::Starttls => 587,
            Self::Tls => 465,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// SMTP server. Unset: no mail is sent and `/otp/send` truthfully answers
    /// `otpSent: false` (outcome `NOT_CONFIGURED`).
    pub smtp_host: Option<String>,
    /// Unset: 25 (`plain`), 587 (`starttls`) or 465 (`tls`).
    pub smtp_port: Option<u16>,
    pub smtp_tls: SmtpTls,
    /// SMTP AUTH (PLAIN or LOGIN) when set, together with `smtp_password`.
    pub smtp_username: Option<String>,
    #[serde(serialize_with = "serialize_secret_opt")]
    pub smtp_password: Option<SecretString>,
    /// PEM file with additional CA certificates to trust (e.g. the bank's internal CA);
    /// the public web PKI roots are always trusted.
    pub smtp_ca_file: Option<PathBuf>,
    /// Name announced in `EHLO`. Unset: the address literal `[127.0.0.1]`.
    pub smtp_hello_name: Option<String>,
    /// Timeout of the TCP connect to the SMTP server (lettre's own timeout). Everything
    /// after it (TLS, each command) is bounded by `otp.deadline_ms`.
    pub smtp_connect_timeout_ms: u64,
    /// Most SMTP connections open at once (and kept open for reuse); further sends wait
    /// for a free connection within their deadline.
    pub smtp_pool_max_size: u32,
    /// An idle pooled connection is closed after this many seconds.
    pub smtp_pool_idle_secs: u64,
    /// Envelope and header sender.
    pub from_address: String,
    /// Display name of the sender.
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
    /// Header of every message that carries the request's correlation id.
    pub correlation_header: String,
    /// Folder with `<language>/<otp_type>.{subject,txt,html}` templates, replacing the
    /// built-in ones (`activation` and `user_verification` in `en` and `cs`).
    pub templates_dir: Option<PathBuf>,
    /// Language used when neither the request's nor the customer's language has templates.
    pub fallback_language: String,
}

/// Where the OTP goes when the customer registry has no e-mail address for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressFallback {
    /// Only the registry's address is ever used.
    Never,
    /// Users the registry does not know (prospects) get the address their `/user/lookup`
    /// identification carried; registry customers only ever get the registry address.
    UnknownUsers,
    /// As `unknown_users`, and registry customers without an address also get the one
    /// their identification carried (the app user then chooses where the code goes).
    MissingAddress,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtpSettings {
    /// Budget of one `/otp/send`, from its arrival to the answer. Past it the delivery is
    /// abandoned and `otpSent: false` answered. 1.x Onboarding Servers give up after 5 s.
    pub deadline_ms: u64,
    /// Validity stated in the message; match the Onboarding Server's OTP expiry.
    pub validity_minutes: u32,
    /// Sliding window of the send caps.
    pub cap_window_secs: u64,
    /// Most delivery attempts per `processId` within the window (0: no cap).
    pub max_per_process: u32,
    /// Most delivery attempts per `userId` within the window (0: no cap).
    pub max_per_user: u32,
    /// Most delivery attempts to one e-mail address within the window, whatever the
    /// process or user (0: no cap).
    pub max_per_destination: u32,
    /// Most delivery attempts of the whole service within the window (0: no cap).
    pub max_global: u32,
    pub address_fallback: AddressFallback,
    /// Domains a fallback address (one the app user typed into the identification) may be
    /// at, e.g. `["bank.example"]`; `["*"]` opens the fallback to every domain. Empty (the
    /// default): no fallback address is ever mailed, whatever `address_fallback` says.
    pub fallback_domains: Vec<String>,
    /// Attribute of the lookup's `identification` holding the fallback e-mail address.
    pub identification_email_attribute: String,
}

/// Pseudonymous keys of personal data.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacySettings {
    /// Key of the HMAC-SHA256 that turns e-mail addresses into the keys the OTP caps count
    /// by, and identifications into prospects' lookup keys (at least 32 characters; keep it
    /// out of the database's backups). Unset: a built-in key, and the keys are only as good
    /// as an unsalted hash (a warning at start-up).
    #[serde(serialize_with = "serialize_secret_opt")]
    pub hmac_key: Option<SecretString>,
}

impl PrivacySettings {
    /// The key of the pseudonymous keys: `hmac_key`, or the built-in one when unset.
    pub fn key_bytes(&self) -> &[u8] {
        /// Without a configured key (a warning at start-up): as good as an unsalted hash.
        /// Its value is what the OTP destination keys were first computed under.
        const BUILT_IN: &[u8] = b"onboarding-adapter built-in destination key";
        self.hmac_key
            .as_ref()
            .map_or(BUILT_IN, |k| k.expose_secret().as_bytes())
    }
}

/// How long personal data is kept, per kind of record, in days counted from each row's own
/// retention date (see docs/privacy.md); 0 keeps that kind forever. The purge runs in the
/// outbox worker every `purge_interval_secs` (0: never by itself; `POST
/// /admin/retention/purge` runs it once).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    pub purge_interval_secs: u64,
    /// Rows handled per transaction.
    pub batch_size: u64,
    /// A decision's input summary and facts (its outcome, reasons, digest and trace stay),
    /// and a resolved review case's facts, from the decision's time or the case's resolution.
    pub decision_data_days: u32,
    /// Evidence images (bytes or files; the SHA-256, size and format stay).
    pub evidence_days: u32,
    /// Payloads of process events (type, ids and times stay).
    pub event_payload_days: u32,
    /// The e-mail address a lookup carried (the OTP fallback address), deleted.
    pub contact_days: u32,
    /// OTP delivery records, deleted.
    pub otp_delivery_days: u32,
    /// Consent decisions and consent texts served, deleted.
    pub consent_days: u32,
    /// Prospects (a returning identification then gets a new prospect id), deleted.
    pub prospect_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    /// `tracing` filter directive, e.g. `info` or `info,sqlx=warn`. `RUST_LOG` wins when set.
    pub level: String,
}

/// Throttling of failed logins (callbacks' Basic auth and the back office), per source
/// address and per user name (see `crate::throttle`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSettings {
    pub enabled: bool,
    /// Failures are counted in windows of this length.
    pub window_secs: u64,
    /// Failed logins from one source address (IPv6: its /64) within a window after which
    /// that address is refused (429) for `block_secs`.
    pub max_failures_per_address: u32,
    /// Failed logins for one user name, from any address, within a window after which the
    /// name is refused for `block_secs`, except from addresses it logged in from within
    /// `known_address_secs`.
    pub max_failures_per_user: u32,
    pub block_secs: u64,
    pub known_address_secs: u64,
    /// Most addresses (and, separately, user names) tracked at once; the least recently
    /// seen are forgotten first.
    pub max_tracked: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the source address (its right-most
    /// entry). Without them the peer address of the connection is the source.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: ServerSettings {
                host: IpAddr::from([127, 0, 0, 1]),
                port: 8080,
                base_path: String::new(),
                workers: None,
                shutdown_timeout_secs: 30,
                keep_alive_secs: 75,
                openapi_ui: true,
            },
            database: DatabaseSettings {
                url: None,
                max_connections: 16,
                connect_timeout_secs: 5,
                acquire_timeout_secs: 3,
                migrate_on_start: true,
                sqlite_busy_timeout_ms: 5000,
                sqlite_synchronous: SqliteSync::Full,
            },
            auth: AuthSettings {
                enabled: true,
                realm: "onboarding-adapter".into(),
                credentials: Vec::new(),
            },
            correlation: CorrelationSettings {
                correlation_header: "X-Correlation-Id".into(),
                request_id_header: "X-Request-Id".into(),
            },
            limits: LimitSettings {
                default_body_bytes: 64 * 1024,
                evaluate_body_bytes: 32 * 1024 * 1024,
                approve_body_bytes: 16 * 1024 * 1024,
                event_body_bytes: 32 * 1024 * 1024,
                json_max_depth: 32,
                json_max_elements: 20_000,
                max_documents: 10,
                max_images_per_document: 10,
                max_text_chars: 1000,
                raw_data_bytes: 2 * 1024 * 1024,
                max_concurrent_large_bodies: 4,
            },
            lookup: LookupSettings {
                keys: vec![LookupKey::ClientNumber, LookupKey::BirthDate],
                unknown_user: UnknownUser::NotFound,
                prospect_prefix: "P-".into(),
            },
            consent: ConsentSettings {
                templates_dir: None,
                fallback_language: "en".into(),
                required_types: vec!["GDPR".into()],
            },
            decision: DecisionSettings {
                policy_file: None,
                image_min_bytes: 64,
                image_max_bytes: 10 * 1024 * 1024,
                evidence: EvidenceStorage::Database,
                evidence_dir: None,
            },
            review: ReviewSettings {
                deadline_secs: 40 * 60,
                process_expiry_secs: 60 * 60,
                expiry_margin_secs: 10 * 60,
                expiry_outcome: Outcome::Nok,
                expiry_reason: "REVIEW_DEADLINE_EXCEEDED".into(),
            },
            backoffice: BackofficeSettings {
                realm: "onboarding-adapter-backoffice".into(),
                users: Vec::new(),
            },
            onboarding_server: OnboardingServerSettings {
                url: None,
                username: None,
                password: None,
                bearer_token: None,
                header: None,
                oauth2: None,
                connect_timeout_ms: 2000,
                timeout_ms: 10_000,
                time_zone: None,
            },
            delivery: DeliverySettings {
                worker_enabled: true,
                poll_interval_ms: 500,
                lease_secs: 60,
                initial_backoff_ms: 500,
                max_backoff_ms: 60_000,
                horizon_secs: 15 * 60,
            },
            mail: MailSettings {
                smtp_host: None,
                smtp_port: None,
                smtp_tls: SmtpTls::Starttls,
                smtp_username: None,
                smtp_password: None,
                smtp_ca_file: None,
                smtp_hello_name: None,
                smtp_connect_timeout_ms: 2000,
                smtp_pool_max_size: 8,
                smtp_pool_idle_secs: 60,
                from_address: "no-reply@example.com".into(),
                from_name: Some("Mobile banking".into()),
                reply_to: None,
                correlation_header: "X-Correlation-Id".into(),
                templates_dir: None,
                fallback_language: "en".into(),
            },
            otp: OtpSettings {
                deadline_ms: 3000,
                validity_minutes: 5,
                cap_window_secs: 600,
                max_per_process: 5,
                max_per_user: 10,
                max_per_destination: 5,
                max_global: 1000,
                address_fallback: AddressFallback::UnknownUsers,
                fallback_domains: Vec::new(),
                identification_email_attribute: "email".into(),
            },
            log: LogSettings {
                format: LogFormat::Json,
                level: "info".into(),
            },
            privacy: PrivacySettings { hmac_key: None },
            retention: RetentionSettings {
                purge_interval_secs: 3600,
                batch_size: 500,
                decision_data_days: 90,
                evidence_days: 90,
                event_payload_days: 90,
                contact_days: 30,
                otp_delivery_days: 365,
                consent_days: 3 * 365,
                prospect_days: 365,
            },
            throttle: ThrottleSettings {
                enabled: true,
                window_secs: 300,
                max_failures_per_address: 10,
                max_failures_per_user: 100,
                block_secs: 300,
                known_address_secs: 7 * 24 * 3600,
                max_tracked: 10_000,
                trusted_proxies: Vec::new(),
            },
            demo: None,
        }
    }
}

/// Why the settings could not be loaded or are not usable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads defaults ← optional TOML file ← `ADAPTER_*` environment ← `DATABASE_URL`.
    ///
    /// # Errors
    /// When the file or a variable does not parse, or the result fails [`Settings::validate`].
    pub fn load(config_file: Option<&std::path::Path>) -> Result<Self, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let file = config_file
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("ADAPTER_CONFIG").map(PathBuf::from));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(SettingsError::Invalid(format!(
                    "configuration file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(RawEnv).merge(
            Env::raw()
                .only(&["DATABASE_URL"])
                .map(|_| "database.url".into()),
        );
        // Lossy: environment values arrive as strings ("8080", "false") and are converted
        // only where the setting is a number or a boolean.
        let settings: Settings = figment.extract_lossy().map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what serde cannot: non-empty header names, a sane base path, limits.
    ///
    /// # Errors
    /// A message naming the offending setting.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |m: &str| Err(SettingsError::Invalid(m.to_owned()));
        let base = &self.server.base_path;
        if !base.is_empty() && (!base.starts_with('/') || base.ends_with('/')) {
            return invalid(
                "server.base_path must be empty or start with '/' and not end with '/'",
            );
        }
        for name in [
            &self.correlation.correlation_header,
            &self.correlation.request_id_header,
        ] {
            if actix_web::http::header::HeaderName::try_from(name.as_str()).is_err() {
                return invalid("correlation header names must be valid HTTP header names");
            }
        }
        if self.lookup.keys.is_empty() {
            return invalid("lookup.keys must name at least one identification attribute");
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections must be at least 1");
        }
        let l = &self.limits;
        if [
            l.default_body_bytes,
            l.evaluate_body_bytes,
            l.approve_body_bytes,
            l.event_body_bytes,
        ]
        .contains(&0)
        {
            return invalid("limits.*_body_bytes must be greater than zero");
        }
        if [
            l.json_max_depth,
            l.json_max_elements,
            l.max_documents,
            l.max_images_per_document,
            l.max_text_chars,
            l.raw_data_bytes,
            l.max_concurrent_large_bodies,
        ]
        .contains(&0)
        {
            return invalid("limits.* must be greater than zero");
        }
        if l.json_max_depth < 8 {
            return invalid("limits.json_max_depth must be at least 8 (the callbacks nest 6 deep)");
        }
        let d = &self.decision;
        if d.image_max_bytes == 0 || d.image_min_bytes > d.image_max_bytes {
            return invalid(
                "decision.image_max_bytes must be positive and not below decision.image_min_bytes",
            );
        }
        if d.evidence == EvidenceStorage::Folder && d.evidence_dir.is_none() {
            return invalid("decision.evidence = \"folder\" needs decision.evidence_dir");
        }
        self.validate_access()?;
        if self.review.expiry_outcome == Outcome::Wait {
            return invalid("review.expiry_outcome must be OK or NOK");
        }
        if !is_reason_code(&self.review.expiry_reason, MAX_REASON_CODE_LEN) {
            return invalid("review.expiry_reason must be a reason code ([A-Z0-9_]+)");
        }
        self.onboarding_server.validate()?;
        if self.delivery.lease_secs.saturating_mul(1000) <= self.onboarding_server.timeout_ms {
            return invalid("delivery.lease_secs must be longer than onboarding_server.timeout_ms");
        }
        if self.delivery.poll_interval_ms == 0 || self.delivery.lease_secs == 0 {
            return invalid(
                "delivery.poll_interval_ms and delivery.lease_secs must be greater than zero",
            );
        }
        if self
            .privacy
            .hmac_key
            .as_ref()
            .is_some_and(|k| k.expose_secret().chars().count() < 32)
        {
            return invalid("privacy.hmac_key must be at least 32 characters");
        }
        if self.retention.batch_size == 0 {
            return invalid("retention.batch_size must be greater than zero");
        }
        if self.consent.fallback_language.trim().is_empty() {
            return invalid("consent.fallback_language must not be empty");
        }
        self.validate_mail()
    }

    /// The access settings: credentials, users, their passwords, demo mode, the
    /// switched-off authentication and the login throttle.
    ///
    /// # Errors
    /// A message naming the offending setting.
    pub fn validate_access(&self) -> Result<(), SettingsError> {
        let invalid = |m: String| Err(SettingsError::Invalid(m));
        let published = [DEMO_PASSWORD, DEMO_REVIEWER.1, DEMO_ADMIN.1];
        let password_ok = |setting: &str, user: &str, password: &SecretString| {
            let password = password.expose_secret();
            if password.chars().count() < MIN_PASSWORD_CHARS {
                return invalid(format!(
                    "{setting}: the password of {user} is shorter than {MIN_PASSWORD_CHARS} characters"
                ));
            }
            if published.contains(&password) {
                return invalid(format!(
                    "{setting}: the password of {user} is a demo password published in the README"
                ));
            }
            Ok(())
        };
        for c in &self.auth.credentials {
            if c.username.is_empty() || c.password.expose_secret().is_empty() {
                return invalid(
                    "auth.credentials entries need a non-empty username and password".into(),
                );
            }
            if c.username.contains(':') {
                return invalid("auth.credentials usernames cannot contain ':'".into());
            }
            password_ok("auth.credentials", &c.username, &c.password)?;
        }
        for u in &self.backoffice.users {
            if u.username.is_empty()
                || u.password.expose_secret().is_empty()
                || u.username.contains(':')
            {
                return invalid(
                    "backoffice.users entries need a username (without ':') and a password".into(),
                );
            }
            if self
                .auth
                .credentials
                .iter()
                .any(|c| c.username == u.username)
            {
                return invalid(
                    "backoffice.users must not reuse a callback username (auth.credentials)".into(),
                );
            }
            password_ok("backoffice.users", &u.username, &u.password)?;
        }
        if !self.auth.enabled && !self.server.host.is_loopback() {
            return invalid(format!(
                "auth.enabled = false is only accepted on a loopback server.host, not on {}",
                self.server.host
            ));
        }
        let t = &self.throttle;
        if t.window_secs == 0
            || t.block_secs == 0
            || t.max_failures_per_address == 0
            || t.max_failures_per_user == 0
            || t.max_tracked < 100
        {
            return invalid(
                "throttle.window_secs, .block_secs and .max_failures_* must be at least 1 and \
                 throttle.max_tracked at least 100"
                    .into(),
            );
        }
        self.demo_mode().map(|_| ())
    }

    /// Whether demo mode is on: the demo credentials and back-office users are accepted
    /// and the demo customers seeded into an empty registry.
    ///
    /// Demo mode needs that nothing real is configured: no `auth.credentials`, no
    /// `backoffice.users`, no `onboarding_server` (URL or credentials), and a loopback
    /// `server.host`. With `demo` unset it follows from that; `demo = true` with anything
    /// real is refused, and so is a configuration that a demo setting used to complete (a
    /// loopback listener with real settings but without `auth.credentials` or without
    /// `backoffice.users`): the demo users would have let the README's readers in.
    ///
    /// # Errors
    /// The mixed configurations above, with what to change.
    pub fn demo_mode(&self) -> Result<bool, SettingsError> {
        let real = self.real_settings();
        let invalid = |m: String| Err(SettingsError::Invalid(m));
        match self.demo {
            Some(false) => Ok(false),
            Some(true) if real.is_empty() => Ok(true),
            Some(true) => invalid(format!(
                "demo = true cannot be combined with {}: the demo credentials are published in \
                 the README. Remove demo (ADAPTER_DEMO) for a real deployment",
                real.join(", ")
            )),
            None if real.is_empty() => Ok(true),
            None if self.server.host.is_loopback() => {
                let missing = [
                    (
                        self.auth.enabled && self.auth.credentials.is_empty(),
                        "auth.credentials",
                    ),
                    (self.backoffice.users.is_empty(), "backoffice.users"),
                ]
                .into_iter()
                .filter_map(|(missing, name)| missing.then_some(name))
                .collect::<Vec<_>>();
                if missing.is_empty() {
                    Ok(false)
                } else {
                    invalid(format!(
                        "{} configured, so demo mode is off and its credentials no longer \
                         apply, but {} is empty: configure it, or set demo = false \
                         (ADAPTER_DEMO=false) to run without it",
                        real.join(", "),
                        missing.join(" and ")
                    ))
                }
            }
            None => Ok(false),
        }
    }

    /// What is configured for real (and so rules demo mode out).
    fn real_settings(&self) -> Vec<&'static str> {
        let o = &self.onboarding_server;
        [
            (!self.auth.credentials.is_empty(), "auth.credentials"),
            (!self.backoffice.users.is_empty(), "backoffice.users"),
            (
                o.url.is_some()
                    || o.username.is_some()
                    || o.password.is_some()
                    || o.bearer_token.is_some()
                    || o.header.is_some()
                    || o.oauth2.is_some(),
                "onboarding_server",
            ),
            (
                !self.server.host.is_loopback(),
                "a server.host that is not a loopback address",
            ),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }

    fn validate_mail(&self) -> Result<(), SettingsError> {
        let invalid = |m: &str| Err(SettingsError::Invalid(m.to_owned()));
        let (mail, otp) = (&self.mail, &self.otp);
        if mail
            .smtp_host
            .as_deref()
            .is_some_and(|h| h.trim().is_empty())
        {
            return invalid("mail.smtp_host must not be blank (leave it unset to send no mail)");
        }
        if mail.smtp_port == Some(0) {
            return invalid("mail.smtp_port must not be 0");
        }
        match (&mail.smtp_username, &mail.smtp_password) {
            (Some(_), None) | (None, Some(_)) => {
                return invalid("mail.smtp_username and mail.smtp_password must be set together");
            }
            (Some(_), Some(_)) if mail.smtp_tls == SmtpTls::Plain => {
                return invalid(
                    "mail.smtp_tls = \"plain\" would send the SMTP password unencrypted; use \"starttls\" or \"tls\"",
                );
            }
            _ => {}
        }
        if mail.smtp_connect_timeout_ms == 0 || mail.smtp_pool_max_size == 0 {
            return invalid(
                "mail.smtp_connect_timeout_ms and mail.smtp_pool_max_size must be at least 1",
            );
        }
        if mail.fallback_language.trim().is_empty() {
            return invalid("mail.fallback_language must not be empty");
        }
        if actix_web::http::header::HeaderName::try_from(mail.correlation_header.as_str()).is_err()
        {
            return invalid("mail.correlation_header must be a valid header name");
        }
        if otp.deadline_ms == 0 || otp.validity_minutes == 0 {
            return invalid("otp.deadline_ms and otp.validity_minutes must be at least 1");
        }
        if otp.cap_window_secs == 0 && (otp.max_per_process > 0 || otp.max_per_user > 0) {
            return invalid("otp.cap_window_secs must be at least 1 when a send cap is set");
        }
        if otp.identification_email_attribute.trim().is_empty() {
            return invalid("otp.identification_email_attribute must not be empty");
        }
        Ok(())
    }

    /// The database URL to connect to (the default SQLite file when unset).
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose_secret().to_owned(),
            None => "sqlite://data/onboarding-adapter.sqlite?mode=rwc".to_owned(),
        }
    }

    /// Settings as TOML with every secret redacted, for `config show`.
    pub fn redacted_toml(&self) -> String {
        toml_like(&serde_json::to_value(self).unwrap_or_default(), "")
    }
}

/// `ADAPTER_<SECTION>__<KEY>` variables, kept as the strings they are (figment's `Env`
/// would read `0123` as the number 123 and break string settings such as passwords);
/// values written as TOML arrays or tables (`[...]`, `{...}`) are parsed as such.
struct RawEnv;

impl figment::Provider for RawEnv {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("`ADAPTER_` environment variable(s)")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        use figment::value::{Dict, Value};
        let mut dict = Dict::new();
        for (name, raw) in std::env::vars() {
            let Some(key) = name.strip_prefix("ADAPTER_") else {
                continue;
            };
            if key == "CONFIG" || key.is_empty() {
                continue;
            }
            let trimmed = raw.trim_start();
            let value = if trimmed.starts_with('[') || trimmed.starts_with('{') {
                trimmed.parse::<Value>().map_err(|_| {
                    figment::Error::from(format!("{name} is not a valid array or table"))
                })?
            } else {
                Value::from(raw.clone())
            };
            let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
            let mut nested = value;
            // Build the nested dictionary from the innermost key outwards.
            for segment in path.iter().rev() {
                let mut d = Dict::new();
                d.insert(segment.clone(), nested);
                nested = Value::from(d);
            }
            if let Value::Dict(_, d) = nested {
                merge_into(&mut dict, d);
            }
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

fn merge_into(target: &mut figment::value::Dict, source: figment::value::Dict) {
    use figment::value::Value;
    for (k, v) in source {
        match (target.get_mut(&k), v) {
            (Some(Value::Dict(_, existing)), Value::Dict(_, incoming)) => {
                merge_into(existing, incoming)
            }
            (_, v) => {
                target.insert(k, v);
            }
        }
    }
}

fn serialize_secret<S: serde::Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("[REDACTED]")
}

fn serialize_secret_opt<S: serde::Serializer>(
    v: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("[REDACTED]"),
        None => s.serialize_none(),
    }
}

/// Settings serialise with secrets replaced, so `Serialized::defaults` must not carry a
/// real secret; the defaults have none, which keeps this sound.
fn toml_like(value: &serde_json::Value, prefix: &str) -> String {
    let mut out = String::new();
    if let serde_json::Value::Object(map) = value {
        let sorted: BTreeMap<_, _> = map.iter().collect();
        for (k, v) in &sorted {
            if !v.is_object() {
                out.push_str(&format!("{prefix}{k} = {v}\n"));
            }
        }
        for (k, v) in sorted {
            if v.is_object() {
                out.push_str(&toml_like(v, &format!("{prefix}{k}.")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_toml(text: &str) -> Result<Settings, SettingsError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("adapter.toml");
        std::fs::write(&file, text).expect("write");
        Settings::load(Some(&file))
    }

    #[test]
    fn a_toml_file_overrides_the_defaults() {
        let s = load_toml(
            r#"
            demo = false
            [server]
            base_path = "/api/v1"
            port = 9090
            [[auth.credentials]]
            username = "a"
            password = "secret-a-0123"
            [lookup]
            keys = ["email"]
            unknown_user = "prospect"
            "#,
        )
        .expect("valid");
        assert_eq!(s.demo, Some(false));
        assert_eq!(s.server.base_path, "/api/v1");
        assert_eq!(s.server.port, 9090);
        assert_eq!(s.auth.credentials.len(), 1);
        assert_eq!(s.lookup.keys, vec![LookupKey::Email]);
        assert_eq!(s.lookup.unknown_user, UnknownUser::Prospect);
        assert_eq!(s.consent.fallback_language, "en", "untouched defaults stay");
    }

    #[test]
    fn unknown_keys_and_invalid_values_are_refused_with_the_setting_named() {
        for (text, expected) in [
            ("[server]\nbase_pth = \"/x\"", "base_pth"),
            ("[server]\nbase_path = \"api/\"", "server.base_path"),
            ("[lookup]\nkeys = []", "lookup.keys"),
            ("[lookup]\nkeys = [\"shoeSize\"]", "shoeSize"),
            (
                "[review]\nexpiry_outcome = \"WAIT\"",
                "review.expiry_outcome",
            ),
            (
                "[[backoffice.users]]\nusername = \"r\"\npassword = \"p\"\nrole = \"superuser\"",
                "superuser",
            ),
        ] {
            let err = load_toml(text).expect_err(text).to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn the_onboarding_server_is_called_over_https_with_one_way_to_authenticate() {
        // Not demo mode: what is refused is the onboarding_server section itself.
        let load = |text: &str| load_toml(&format!("demo = false\n{text}"));
        let refused = |text: &str| {
            let e = load(text).expect_err(text).to_string();
            assert!(e.contains("onboarding_server"), "{e}");
        };
        refused("[onboarding_server]\nurl = \"http://onboarding.bank.example\"");
        refused("[onboarding_server]\nurl = \"http://127.0.0.1@evil.example\"");
        refused(
            "[onboarding_server]\nurl = \"https://o.example\"\nusername = \"u\"\n\
             password = \"p\"\nbearer_token = \"t\"",
        );
        refused(
            "[onboarding_server]\nurl = \"https://o.example\"\n[onboarding_server.oauth2]\n\
             token_url = \"http://idp.example/token\"\nclient_id = \"c\"\nclient_secret = \"s\"",
        );
        for url in [
            "https://onboarding.bank.example/enrollment-server-onboarding",
            "http://127.0.0.1:8080",
            "http://localhost:8080/x",
            "http://[::1]:8080",
        ] {
            let s = load(&format!("[onboarding_server]\nurl = \"{url}\""));
            assert!(s.is_ok(), "{url}: {s:?}");
        }
        let s = load(
            "[onboarding_server]\nurl = \"https://o.example\"\ntime_zone = \"Europe/Prague\"\n\
             [onboarding_server.oauth2]\ntoken_url = \"https://idp.example/token\"\n\
             client_id = \"c\"\nclient_secret = \"s\"\nscope = \"callback\"",
        )
        .expect("valid");
        assert_eq!(
            s.onboarding_server.time_zone,
            Some(chrono_tz::Europe::Prague)
        );
        assert!(!format!("{:?}", s.onboarding_server).contains("\"s\""));
        assert!(load("[onboarding_server]\ntime_zone = \"Mars/Olympus\"").is_err());
    }

    #[test]
    fn secrets_are_redacted_when_the_settings_are_printed() {
        let mut s = Settings::default();
        s.database.url = Some(SecretString::from("postgres://u:db-pass@h/db".to_owned()));
        s.auth.credentials.push(Credential {
            username: "a".into(),
            password: SecretString::from("cred-pass-0123".to_owned()),
        });
        let shown = format!("{}{:?}", s.redacted_toml(), s);
        assert!(
            !shown.contains("db-pass") && !shown.contains("cred-pass"),
            "{shown}"
        );
        assert!(shown.contains("[REDACTED]"));
    }

    /// A change to the default settings, named in a table of cases.
    type Change = Box<dyn Fn(&mut Settings)>;

    fn credential(user: &str, password: &str) -> Credential {
        Credential {
            username: user.into(),
            password: SecretString::from(password.to_owned()),
        }
    }

    fn staff(user: &str, password: &str) -> StaffUser {
        StaffUser {
            username: user.into(),
            password: SecretString::from(password.to_owned()),
            role: Role::Admin,
        }
    }

    #[test]
    fn demo_mode_is_on_only_when_nothing_real_is_configured() {
        let demo = Settings::default();
        assert_eq!(demo.demo_mode().ok(), Some(true), "the README's run");

        let mut real = Settings::default();
        real.auth.credentials = vec![credential("os", "callback-password-1")];
        real.backoffice.users = vec![staff("boss", "backoffice-password-1")];
        assert_eq!(real.demo_mode().ok(), Some(false));

        let mut exposed = Settings::default();
        exposed.server.host = "0.0.0.0".parse().expect("ip");
        exposed.auth.credentials = vec![credential("os", "callback-password-1")];
        assert_eq!(
            exposed.demo_mode().ok(),
            Some(false),
            "no back office is fine where the demo users never applied"
        );

        let off = Settings {
            demo: Some(false),
            ..Settings::default()
        };
        assert_eq!(off.demo_mode().ok(), Some(false));
    }

    #[test]
    fn mixed_demo_and_real_configurations_are_refused_with_what_to_change() {
        let cases: Vec<(&str, Change, &str)> = vec![
            (
                "demo = true with callback credentials",
                Box::new(|s| {
                    s.demo = Some(true);
                    s.auth.credentials = vec![credential("os", "callback-password-1")];
                }),
                "demo = true cannot be combined with auth.credentials",
            ),
            (
                "demo = true on a public address",
                Box::new(|s| {
                    s.demo = Some(true);
                    s.server.host = "0.0.0.0".parse().expect("ip");
                }),
                "not a loopback address",
            ),
            (
                "callback credentials without back-office users on loopback",
                Box::new(|s| s.auth.credentials = vec![credential("os", "callback-password-1")]),
                "backoffice.users is empty",
            ),
            (
                "back-office users without callback credentials on loopback",
                Box::new(|s| s.backoffice.users = vec![staff("boss", "backoffice-password-1")]),
                "auth.credentials is empty",
            ),
            (
                "an Onboarding Server but no credentials",
                Box::new(|s| s.onboarding_server.url = Some("https://os.example".into())),
                "auth.credentials and backoffice.users is empty",
            ),
        ];
        for (case, configure, expected) in cases {
            let mut s = Settings::default();
            configure(&mut s);
            let err = s.validate().expect_err(case).to_string();
            assert!(err.contains(expected), "{case}: {err}");
            assert!(err.contains("demo"), "{case}: {err}");
        }
    }

    #[test]
    fn short_or_published_passwords_and_open_callbacks_off_loopback_are_refused() {
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|s| s.auth.credentials = vec![credential("os", "eleven-char")]),
                "shorter than 12 characters",
            ),
            (
                Box::new(|s| s.backoffice.users = vec![staff("boss", "short")]),
                "backoffice.users: the password of boss is shorter",
            ),
            (
                Box::new(|s| s.auth.credentials = vec![credential("os", DEMO_PASSWORD)]),
                "demo password",
            ),
            (
                Box::new(|s| {
                    s.auth.enabled = false;
                    s.server.host = "0.0.0.0".parse().expect("ip");
                }),
                "auth.enabled = false is only accepted on a loopback",
            ),
            (
                Box::new(|s| s.throttle.max_failures_per_address = 0),
                "throttle.",
            ),
        ];
        for (configure, expected) in cases {
            let mut s = Settings {
                demo: Some(false),
                ..Settings::default()
            };
            configure(&mut s);
            let err = s.validate().expect_err(expected).to_string();
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains(DEMO_PASSWORD), "no password in {err}");
        }
        let mut twelve = Settings {
            demo: Some(false),
            ..Settings::default()
        };
        twelve.auth.credentials = vec![credential("os", "twelve-chars")];
        assert!(twelve.validate().is_ok());
    }
}

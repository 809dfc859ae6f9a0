//! The SMTP side: a pooled `lettre` transport built from [`MailSettings`], and
//! [`Mailer::send`], which composes one message and reports what the SMTP server said
//! within a time budget.
//!
//! All SMTP I/O runs on one dedicated thread with its own tokio runtime. The pool's
//! connections are then owned and driven by a single runtime, whichever HTTP worker asked
//! for the send; a worker only awaits the result, with a timeout.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, oneshot};

use crate::configuration::{MailSettings, SmtpTls};

/// Why a message was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The time budget (or the transport's own timeout) ran out.
    Timeout,
    /// 5xx reply: the server refused for good (unknown recipient, policy, size).
    Permanent,
    /// 4xx reply: the server refused for now (greylisting, overload).
    Transient,
    /// No connection: refused, reset, unreachable, name not resolved.
    Connection,
    /// TLS handshake or certificate failure, or `STARTTLS` not offered.
    Tls,
    /// The server spoke something that is not SMTP, or the client failed.
    Protocol,
    /// The message could not be composed, or the mail thread is gone.
    Internal,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "TIMEOUT",
            Self::Permanent => "SMTP_PERMANENT",
            Self::Transient => "SMTP_TRANSIENT",
            Self::Connection => "CONNECTION",
            Self::Tls => "TLS",
            Self::Protocol => "PROTOCOL",
            Self::Internal => "INTERNAL",
        }
    }
}

/// What went wrong, without anything the server echoed back (it may contain the address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub class: FailureClass,
    pub smtp_code: Option<u16>,
    /// Short, address-free description: the reply code and enhanced status code, or the
    /// kind of network error.
    pub detail: String,
}

/// The result of one send.
#[derive(Debug)]
pub struct SendReport {
    /// The SMTP reply code of the accepted message, or why it was not accepted.
    pub result: Result<u16, SendFailure>,
    pub message_id: String,
    pub elapsed: Duration,
}

/// One message to send. `text` and `html` carry the OTP code: never log them.
pub struct OutgoingMail<'a> {
    pub to: &'a Address,
    pub subject: &'a str,
    pub text: String,
    pub html: String,
    pub correlation_id: &'a str,
    pub date: SystemTime,
}

/// The thread that runs all SMTP I/O; it stops when the last [`Mailer`] clone is dropped.
struct MailRuntime {
    handle: Handle,
    _stop: oneshot::Sender<()>,
}

impl MailRuntime {
    fn start() -> anyhow::Result<Self> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("smtp".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => {
                        let _ = handle_tx.send(Ok(runtime.handle().clone()));
                        runtime.block_on(async {
                            let _ = stopped.await;
                        });
                    }
                    Err(e) => {
                        let _ = handle_tx.send(Err(e));
                    }
                }
            })
            .context("Failed to start the SMTP thread")?;
        let handle = handle_rx
            .recv()
            .context("The SMTP thread stopped at start")?
            .context("Failed to start the SMTP runtime")?;
        Ok(Self {
            handle,
            _stop: stop,
        })
    }
}

/// Sends OTP messages through one SMTP server. Cheap to share (`Arc`).
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    runtime: MailRuntime,
    /// At most `smtp_pool_max_size` sends at once, so at most that many connections: lettre's
    /// pool bounds only the idle ones.
    slots: Arc<Semaphore>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    message_id_domain: String,
    correlation_header: String,
    /// `host:port (mode)`, for logs.
    endpoint: String,
}

impl Mailer {
    /// The mailer for `settings`, or `None` when no SMTP host is configured.
    ///
    /// # Errors
    /// A message naming the setting that is unusable (address, CA file, header name).
    pub fn from_settings(settings: &MailSettings) -> anyhow::Result<Option<Self>> {
        let Some(host) = settings.smtp_host.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let from_address = Address::from_str(settings.from_address.trim()).with_context(|| {
            format!(
                "mail.from_address `{}` is not an e-mail address",
                settings.from_address
            )
        })?;
        let from = Mailbox::new(settings.from_name.clone(), from_address.clone());
        let reply_to = settings
            .reply_to
            .as_deref()
            .map(|r| {
                Address::from_str(r.trim())
                    .map(|a| Mailbox::new(None, a))
                    .with_context(|| format!("mail.reply_to `{r}` is not an e-mail address"))
            })
            .transpose()?;
        HeaderName::new_from_ascii(settings.correlation_header.clone()).map_err(|_| {
            anyhow::anyhow!(
                "mail.correlation_header `{}` is not a valid mail header name",
                settings.correlation_header
            )
        })?;

        let port = settings
            .smtp_port
            .unwrap_or_else(|| settings.smtp_tls.default_port());
        let tls = match settings.smtp_tls {
            SmtpTls::Plain => Tls::None,
            SmtpTls::Starttls => Tls::Required(tls_parameters(host, settings)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(host, settings)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_millis(
                settings.smtp_connect_timeout_ms,
            )))
            .pool_config(
                PoolConfig::new()
                    .max_size(settings.smtp_pool_max_size)
                    .idle_timeout(Duration::from_secs(settings.smtp_pool_idle_secs)),
            );
        if let Some(name) = &settings.smtp_hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        if let (Some(user), Some(password)) = (&settings.smtp_username, &settings.smtp_password) {
            builder = builder
                .credentials(Credentials::new(
                    user.clone(),
                    password.expose_secret().to_owned(),
                ))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        let runtime = MailRuntime::start()?;
        // The pool spawns its housekeeping task when built: build it on the SMTP runtime.
        let transport = {
            let _entered = runtime.handle.enter();
            builder.build()
        };
        Ok(Some(Self {
            transport,
            runtime,
            slots: Arc::new(Semaphore::new(settings.smtp_pool_max_size as usize)),
            from,
            reply_to,
            message_id_domain: from_address.domain().to_owned(),
            correlation_header: settings.correlation_header.clone(),
            endpoint: format!(
                "{host}:{port} ({})",
                match settings.smtp_tls {
                    SmtpTls::Plain => "plain",
                    SmtpTls::Starttls => "starttls",
                    SmtpTls::Tls => "tls",
                }
            ),
        }))
    }

    /// `host:port (mode)` of the SMTP server.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Composes and sends one message, waiting at most `budget` for the server to accept
    /// it. A send still running at the deadline is abandoned (its connection closed).
    pub async fn send(&self, mail: OutgoingMail<'_>, budget: Duration) -> SendReport {
        let started = Instant::now();
        let message_id = format!("<{}@{}>", uuid::Uuid::new_v4(), self.message_id_domain);
        let result = match self.compose(mail, &message_id) {
            Ok(message) => self.deliver(message, budget).await,
            Err(detail) => Err(SendFailure {
                class: FailureClass::Internal,
                smtp_code: None,
                detail,
            }),
        };
        SendReport {
            result,
            message_id,
            elapsed: started.elapsed(),
        }
    }

    fn compose(&self, mail: OutgoingMail<'_>, message_id: &str) -> Result<Message, String> {
        let correlation = HeaderName::new_from_ascii(self.correlation_header.clone())
            .map_err(|_| "invalid correlation header name".to_owned())?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, mail.to.clone()))
            .subject(mail.subject)
            .date(mail.date)
            .message_id(Some(message_id.to_owned()))
            .raw_header(HeaderValue::new(
                correlation,
                mail.correlation_id.to_owned(),
            ))
            // RFC 3834: no auto-replies (vacation notices) to a one-time code.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".to_owned(),
            ));
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(mail.text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(mail.html),
                    ),
            )
            .map_err(|e| format!("message could not be composed: {e}"))
    }

    async fn deliver(&self, message: Message, budget: Duration) -> Result<u16, SendFailure> {
        let transport = self.transport.clone();
        let slots = self.slots.clone();
        let task = self.runtime.handle.spawn(async move {
            // Waiting for a free connection counts against the deadline like the send.
            let _slot = slots.acquire_owned().await;
            transport.send(message).await
        });
        let abort = task.abort_handle();
        match tokio::time::timeout(budget, task).await {
            Ok(Ok(Ok(response))) => Ok(u16::from(response.code())),
            Ok(Ok(Err(e))) => Err(classify(&e)),
            Ok(Err(_)) => Err(SendFailure {
                class: FailureClass::Internal,
                smtp_code: None,
                detail: "the SMTP task ended unexpectedly".into(),
            }),
            Err(_) => {
                abort.abort();
                Err(SendFailure {
                    class: FailureClass::Timeout,
                    smtp_code: None,
                    detail: "no acceptance within the deadline".into(),
                })
            }
        }
    }
}

fn tls_parameters(host: &str, settings: &MailSettings) -> anyhow::Result<TlsParameters> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(file) = &settings.smtp_ca_file {
        let pem = std::fs::read(file)
            .with_context(|| format!("mail.smtp_ca_file: cannot read {}", file.display()))?;
        let certificate = Certificate::from_pem(&pem).with_context(|| {
            format!(
                "mail.smtp_ca_file: {} is not a PEM certificate",
                file.display()
            )
        })?;
        builder = builder.add_root_certificate(certificate);
    }
    builder
        .build_rustls()
        .context("mail.smtp_tls: TLS set-up failed")
}

/// Turns a lettre error into an address-free [`SendFailure`]. The server's reply text is
/// dropped (it often repeats the recipient); only the reply code and the enhanced status
/// code (`5.1.1`) are kept.
fn classify(e: &lettre::transport::smtp::Error) -> SendFailure {
    use std::error::Error as _;
    let smtp_code = e.status().map(u16::from);
    let enhanced = e
        .source()
        .map(|s| s.to_string())
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .filter(|w| is_enhanced_status(w));
    let io = io_error(e);
    // lettre reports a failed TLS handshake as a connection error around rustls' error.
    let rustls_error = io
        .and_then(|io| io.get_ref())
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let (class, detail) = if e.is_timeout() {
        (FailureClass::Timeout, "SMTP transport timeout".to_owned())
    } else if e.is_permanent() || e.is_transient() {
        let class = if e.is_permanent() {
            FailureClass::Permanent
        } else {
            FailureClass::Transient
        };
        let code = smtp_code.map(|c| c.to_string()).unwrap_or_default();
        let detail = match enhanced {
            Some(enhanced) => format!("{code} {enhanced}"),
            None => code,
        };
        (class, detail)
    } else if e.is_tls() {
        (FailureClass::Tls, "TLS failure".to_owned())
    } else if let Some(tls) = rustls_error {
        (FailureClass::Tls, format!("TLS failure: {tls}"))
    } else if e.is_response() || e.is_client() {
        let text = e.to_string();
        // lettre reports a missing STARTTLS offer as a client error.
        if text.contains("STARTTLS") {
            (
                FailureClass::Tls,
                "the server does not offer STARTTLS".to_owned(),
            )
        } else {
            (
                FailureClass::Protocol,
                "unexpected SMTP exchange".to_owned(),
            )
        }
    } else if e.is_transport_shutdown() {
        (
            FailureClass::Internal,
            "SMTP transport shut down".to_owned(),
        )
    } else {
        (
            FailureClass::Connection,
            match io {
                Some(io) => format!("network error: {}", io.kind()),
                None => "network error".to_owned(),
            },
        )
    };
    SendFailure {
        class,
        smtp_code,
        detail,
    }
}

fn io_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut source = e.source();
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = err.source();
    }
    None
}

/// `class.subject.detail` of RFC 3463, e.g. `5.1.1`.
fn is_enhanced_status(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && matches!(parts.first(), Some(&("2" | "4" | "5")))
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_status_codes_are_recognised() {
        for (word, ok) in [
            ("5.1.1", true),
            ("4.7.0", true),
            ("2.0.0", true),
            ("5.1", false),
            ("<jan@example.com>", false),
            ("6.1.1", false),
            ("5.1.1a", false),
        ] {
            assert_eq!(is_enhanced_status(word), ok, "{word}");
        }
    }

    #[test]
    fn no_smtp_host_means_no_mailer() {
        let settings = crate::configuration::Settings::default();
        assert!(
            Mailer::from_settings(&settings.mail)
                .expect("valid")
                .is_none()
        );
    }

    #[test]
    fn unusable_sender_settings_are_refused_with_the_setting_named() {
        let mut settings = crate::configuration::Settings::default().mail;
        settings.smtp_host = Some("127.0.0.1".into());
        settings.from_address = "not an address".into();
        let err = Mailer::from_settings(&settings)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(err.contains("mail.from_address"), "{err}");
        settings.from_address = "otp@bank.example".into();
        settings.reply_to = Some("nope".into());
        let err = Mailer::from_settings(&settings)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(err.contains("mail.reply_to"), "{err}");
    }
}

//! A small real SMTP server for the tests (and the benchmark): it listens on 127.0.0.1,
//! speaks enough SMTP for lettre (EHLO/HELO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, RSET,
//! NOOP, QUIT), and keeps every accepted message. Modes make it misbehave the ways a real
//! server does; [`TestCa`] lets it speak implicit TLS or STARTTLS with a certificate from
//! a throw-away CA.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accept every message.
    Accept,
    /// `550 5.1.1 <address>: Recipient address rejected: User unknown` at `RCPT TO`.
    RejectRecipient,
    /// `554 5.7.1` after the message data.
    RejectData,
    /// `451 4.3.0` after the message data.
    TransientData,
    /// Accept the TCP connection but never say anything.
    Silent,
    /// Speak normally but never answer the end of the message data.
    StallAtData,
    /// Accept, but only after this delay at the end of the data.
    SlowAccept(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (SMTPS).
    Implicit,
    /// Plain greeting, `STARTTLS` offered.
    StartTls,
}

/// A throw-away CA and a certificate for `localhost`/`127.0.0.1` signed by it.
pub struct TestCa {
    pub ca_pem: String,
    acceptor: TlsAcceptor,
}

impl TestCa {
    pub fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "onboarding-adapter test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::from_params(&ca_params, &ca_key);
        let key = KeyPair::generate().expect("server key");
        let cert = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server params")
            .signed_by(&key, &issuer)
            .expect("server certificate");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server config");
        Self {
            ca_pem: ca_cert.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }
    }
}

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: Vec<u8>,
    /// Whether the session was encrypted when the message arrived.
    pub tls: bool,
    /// The user that authenticated with `AUTH PLAIN`, if any.
    pub auth_user: Option<String>,
}

struct Config {
    mode: Mode,
    tls: Option<(TlsMode, TlsAcceptor)>,
    /// `(user, password)`: AUTH PLAIN is offered (on encrypted sessions) and required.
    auth: Option<(String, String)>,
    received: Mutex<Vec<Received>>,
}

pub struct SmtpSink {
    pub port: u16,
    config: Arc<Config>,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start(mode: Mode) -> Self {
        Self::start_with(mode, None, None).await
    }

    /// A sink speaking TLS (`tls`) and requiring `AUTH PLAIN` with `auth` when given.
    pub async fn start_with(
        mode: Mode,
        tls: Option<(TlsMode, &TestCa)>,
        auth: Option<(&str, &str)>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
        let port = listener.local_addr().expect("addr").port();
        let config = Arc::new(Config {
            mode,
            tls: tls.map(|(m, ca)| (m, ca.acceptor.clone())),
            auth: auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
            received: Mutex::new(Vec::new()),
        });
        let connections = Arc::new(AtomicUsize::new(0));
        let (cfg, count) = (config.clone(), connections.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let cfg = cfg.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, cfg).await;
                });
            }
        });
        Self {
            port,
            config,
            connections,
            task,
        }
    }

    /// The messages accepted so far.
    pub fn messages(&self) -> Vec<Received> {
        self.config
            .received
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(stream: tokio::net::TcpStream, cfg: Arc<Config>) -> std::io::Result<()> {
    match &cfg.tls {
        Some((TlsMode::Implicit, acceptor)) => {
            let tls = acceptor.accept(stream).await?;
            session(tls, &cfg, true, true).await.map(|_| ())
        }
        Some((TlsMode::StartTls, acceptor)) => {
            if let Some(plain) = session(stream, &cfg, false, true).await? {
                let tls = acceptor.accept(plain).await?;
                session(tls, &cfg, true, false).await?;
            }
            Ok(())
        }
        None => session(stream, &cfg, false, true).await.map(|_| ()),
    }
}

/// Runs one SMTP session on `stream`; returns the stream when the client asked for
/// `STARTTLS` (the caller then continues the session encrypted).
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    cfg: &Config,
    secure: bool,
    greet: bool,
) -> std::io::Result<Option<S>> {
    let mut stream = BufReader::new(stream);
    if cfg.mode == Mode::Silent {
        let mut sink = Vec::new();
        while stream.read_until(b'\n', &mut sink).await? > 0 {
            sink.clear();
        }
        return Ok(None);
    }
    if greet {
        stream.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    }
    let offers_starttls = !secure && matches!(cfg.tls, Some((TlsMode::StartTls, _)));
    let offers_auth = secure && cfg.auth.is_some();
    let mut auth_user: Option<String> = None;
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if stream.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        let mut words = text.split_whitespace();
        let verb = words.next().unwrap_or_default().to_ascii_uppercase();
        let reply: Vec<u8> = match verb.as_str() {
            "EHLO" => {
                let mut r = String::from("250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n");
                if offers_starttls {
                    r.push_str("250-STARTTLS\r\n");
                }
                if offers_auth {
                    r.push_str("250-AUTH PLAIN\r\n");
                }
                r.push_str("250 SIZE 10485760\r\n");
                r.into_bytes()
            }
            "HELO" => b"250 sink.test\r\n".to_vec(),
            "STARTTLS" if offers_starttls => {
                stream
                    .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                    .await?;
                stream.flush().await?;
                return Ok(Some(stream.into_inner()));
            }
            "AUTH" if offers_auth => {
                let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
                let decoded = words
                    .next()
                    .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                    .map(|raw| String::from_utf8_lossy(&raw).into_owned())
                    .unwrap_or_default();
                let parts: Vec<&str> = decoded.split('\0').collect();
                match (&cfg.auth, mechanism.as_str(), parts.as_slice()) {
                    (Some((u, p)), "PLAIN", [_, user, password]) if user == u && password == p => {
                        auth_user = Some((*user).to_owned());
                        b"235 2.7.0 Authentication successful\r\n".to_vec()
                    }
                    _ => b"535 5.7.8 Authentication credentials invalid\r\n".to_vec(),
                }
            }
            "MAIL" if cfg.auth.is_some() && auth_user.is_none() => {
                b"530 5.7.0 Authentication required\r\n".to_vec()
            }
            "MAIL" => {
                mail_from = angle(&text);
                rcpt_to.clear();
                b"250 2.1.0 Ok\r\n".to_vec()
            }
            "RCPT" => {
                let to = angle(&text);
                if cfg.mode == Mode::RejectRecipient {
                    format!("550 5.1.1 <{to}>: Recipient address rejected: User unknown\r\n")
                        .into_bytes()
                } else {
                    rcpt_to.push(to);
                    b"250 2.1.5 Ok\r\n".to_vec()
                }
            }
            "DATA" => {
                stream
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = Vec::new();
                loop {
                    line.clear();
                    if stream.read_until(b'\n', &mut line).await? == 0 {
                        return Ok(None);
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    // Dot-unstuffing (RFC 5321 4.5.2).
                    let content = if line.starts_with(b"..") {
                        &line[1..]
                    } else {
                        &line[..]
                    };
                    data.extend_from_slice(content);
                }
                match cfg.mode {
                    Mode::RejectData => b"554 5.7.1 Message rejected by policy\r\n".to_vec(),
                    Mode::TransientData => b"451 4.3.0 Try again later\r\n".to_vec(),
                    Mode::StallAtData => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return Ok(None);
                    }
                    _ => {
                        if let Mode::SlowAccept(delay) = cfg.mode {
                            tokio::time::sleep(delay).await;
                        }
                        if let Ok(mut r) = cfg.received.lock() {
                            r.push(Received {
                                mail_from: mail_from.clone(),
                                rcpt_to: rcpt_to.clone(),
                                data,
                                tls: secure,
                                auth_user: auth_user.clone(),
                            });
                        }
                        b"250 2.0.0 Ok: queued\r\n".to_vec()
                    }
                }
            }
            "RSET" | "NOOP" => b"250 2.0.0 Ok\r\n".to_vec(),
            "QUIT" => {
                stream.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(None);
            }
            _ => b"502 5.5.2 Command not recognised\r\n".to_vec(),
        };
        stream.write_all(&reply).await?;
        stream.flush().await?;
    }
}

/// The address between `<` and `>` of a `MAIL FROM:`/`RCPT TO:` line.
fn angle(line: &str) -> String {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_owned())
        .unwrap_or_default()
}

//! Building the application: the one app factory ([`app`]) used by the server, the tests
//! and the OpenAPI exporter, and [`Application`], which binds the listener (port 0 in
//! tests) and owns the running server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpServer, web};
use actix_web_httpauth::middleware::HttpAuthentication;
use anyhow::{Context, bail};
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::{self, BasicAuthenticator};
use crate::backoffice::{self, StaffAuthenticator};
use crate::clock::{SharedClock, SystemClock};
use crate::configuration::{Credential, DEMO_PASSWORD, DEMO_USERNAME, Settings};
use crate::domain::consent::ConsentCatalog;
use crate::domain::policy::DecisionEngine;
use crate::email::{MailTemplates, Mailer};
use crate::error::ApiError;
use crate::extract::LargeBodies;
use crate::metrics::Metrics;
use crate::observe::{CorrelationHeaders, observe};
use crate::openapi::ApiDoc;
use crate::routes::{
    self, client_approve, client_evaluate, consent_storage, consent_text, health, otp_send,
    process_event, user_lookup,
};
use crate::services::outbox::Worker;
use crate::services::policy::{Decider, PolicyHolder, spawn_reload_on_sighup};
use crate::state::AppState;
use crate::throttle::LoginThrottle;
use crate::{csrf, demo, services, storage};

/// Everything the handlers need at run time. Absent when the factory only builds the
/// OpenAPI document.
#[derive(Clone)]
pub struct Runtime {
    pub state: AppState,
    pub metrics: Metrics,
    pub authenticator: Option<BasicAuthenticator>,
    pub staff: Option<StaffAuthenticator>,
    pub headers: CorrelationHeaders,
    /// Served at `/openapi.json` and in Swagger UI when set.
    pub openapi: Option<OpenApiDoc>,
    /// Documented paths and methods (405 for the others).
    pub routes: routes::KnownRoutes,
    /// Turns for large bodies, shared by every HTTP worker.
    pub large_bodies: LargeBodies,
}

/// The app factory: routes, middleware, app data, and the OpenAPI document collected from
/// the handlers.
pub fn app(
    settings: Settings,
    runtime: Option<Runtime>,
) -> (
    App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    >,
    OpenApiDoc,
) {
    let auth_enabled = runtime.as_ref().is_some_and(|r| r.authenticator.is_some());
    let mut app = App::new().into_utoipa_app().openapi(ApiDoc::openapi());
    if let Some(rt) = &runtime {
        app = app
            .app_data(web::Data::new(rt.state.clone()))
            .app_data(web::Data::new(rt.metrics.clone()))
            .app_data(web::Data::new(rt.headers.clone()))
            .app_data(web::Data::new(settings.limits.clone()))
            .app_data(web::Data::new(rt.large_bodies.clone()))
            .app_data(web::Data::new(rt.routes.clone()));
        if let Some(authenticator) = &rt.authenticator {
            app = app.app_data(web::Data::new(authenticator.clone()));
        }
        if let Some(staff) = &rt.staff {
            app = app.app_data(web::Data::new(staff.clone()));
        }
        if let Some(doc) = rt.openapi.clone() {
            app = app.openapi_service(|_| {
                SwaggerUi::new("/swagger-ui/{_:.*}").url("/openapi.json", doc)
            });
        }
    }
    let base_path = settings.server.base_path.clone();
    let (app, mut doc) = app
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            ApiError::BadRequest(format!("invalid query parameters: {err}")).into()
        }))
        .app_data(
            web::PathConfig::default()
                .error_handler(|_, _| ApiError::NotFound("no such resource".into()).into()),
        )
        .service(health::live)
        .service(health::ready)
        .service(health::metrics)
        .service(
            scope::scope("/admin")
                // Authentication runs first (outermost), then the CSRF guard.
                .wrap(from_fn(csrf::guard))
                .wrap(HttpAuthentication::with_fn(backoffice::validate))
                .service(routes::backoffice::list_cases)
                .service(routes::backoffice::get_case)
                .service(routes::backoffice::list_case_images)
                .service(routes::backoffice::get_case_image)
                .service(routes::backoffice::resolve_case)
                .service(routes::backoffice::list_outbox)
                .service(routes::backoffice::retry_outbox)
                .service(routes::backoffice::list_audit)
                .service(routes::backoffice::get_policy)
                .service(routes::backoffice::reload_policy)
                .service(routes::backoffice::purge_retention),
        )
        .service(
            scope::scope(base_path.as_str())
                .wrap(Condition::new(
                    auth_enabled,
                    HttpAuthentication::with_fn(auth::validate),
                ))
                .service(user_lookup::user_lookup)
                .service(otp_send::otp_send)
                .service(consent_text::consent_text)
                .service(consent_storage::consent_storage)
                .service(client_evaluate::client_evaluate)
                .service(client_evaluate::client_evaluation_alias)
                .service(client_approve::client_approve)
                .service(client_approve::client_approval_alias)
                .service(process_event::process_event)
                .default_service(web::to(routes::fallback)),
        )
        .default_service(web::to(routes::fallback))
        .split_for_parts();
    crate::openapi::complete(&mut doc, &settings.limits);
    (
        app.wrap(from_fn(routes::method_guard))
            .wrap(from_fn(observe)),
        doc,
    )
}

/// The OpenAPI document of the service with `settings`' base path (no database needed).
pub fn openapi_document(settings: &Settings) -> OpenApiDoc {
    app(settings.clone(), None).1
}

/// Decides which credentials protect the callbacks. Secure by default: without configured
/// credentials the server only starts in demo mode ([`Settings::demo_mode`]: nothing real
/// configured, loopback listener), with the documented demo credentials, and refuses
/// otherwise; authentication is switched off only on a loopback listener.
///
/// # Errors
/// When no credentials are configured outside demo mode, on a mixed demo and real
/// configuration, or when authentication is off on a listener that is not loopback.
pub fn authenticator(settings: &Settings) -> anyhow::Result<Option<BasicAuthenticator>> {
    let auth = &settings.auth;
    if !auth.enabled {
        if !settings.server.host.is_loopback() {
            bail!(
                "auth.enabled = false is only accepted on a loopback server.host, not on {}",
                settings.server.host
            );
        }
        tracing::error!(
            "AUTHENTICATION IS DISABLED (auth.enabled = false): every caller on this host can use the callbacks"
        );
        return Ok(None);
    }
    if !auth.credentials.is_empty() {
        tracing::info!(
            credentials = auth.credentials.len(),
            "HTTP Basic authentication on"
        );
        return Ok(Some(BasicAuthenticator::new(
            &auth.realm,
            &auth.credentials,
        )));
    }
    if settings.demo_mode()? {
        tracing::warn!(
            username = DEMO_USERNAME,
            "demo mode (nothing real configured, loopback listener): accepting the demo \
             credentials documented in the README; configure auth.credentials before exposing this service"
        );
        let demo = Credential {
            username: DEMO_USERNAME.into(),
            password: DEMO_PASSWORD.to_owned().into(),
        };
        return Ok(Some(BasicAuthenticator::new(&auth.realm, &[demo])));
    }
    bail!(
        "no auth.credentials configured: set ADAPTER_AUTH__CREDENTIALS (or [[auth.credentials]] in the \
         configuration file); refusing to serve the callbacks without authentication on a non-loopback \
         address or outside demo mode"
    )
}

/// Logs a warning for every configured password that is long enough but weak (see
/// [`auth::password_weakness`]); names the user and the weakness, never the password.
fn warn_about_weak_passwords(settings: &Settings) {
    use secrecy::ExposeSecret;
    let callbacks = settings
        .auth
        .credentials
        .iter()
        .map(|c| ("auth.credentials", &c.username, &c.password));
    let staff = settings
        .backoffice
        .users
        .iter()
        .map(|u| ("backoffice.users", &u.username, &u.password));
    for (setting, username, password) in callbacks.chain(staff) {
        if let Some(weakness) = auth::password_weakness(username, password.expose_secret()) {
            tracing::warn!(
                setting,
                username = %username,
                weakness,
                "weak password configured: use a long random one"
            );
        }
    }
}

pub struct Application {
    port: u16,
    server: Server,
    stop: tokio::sync::watch::Sender<bool>,
    worker: Option<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Migrates (if configured), connects, seeds demo data (demo mode) and binds.
    ///
    /// # Errors
    /// Configuration, database or bind failures, each with its context.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// # Errors
    /// As [`Application::build`].
    pub async fn build_with_clock(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        Self::build_with_engines(settings, clock, Vec::new()).await
    }

    /// As [`Application::build`], with compiled decision engines run beside the policy file
    /// (see [`DecisionEngine`]; e.g. a sanctions screening client).
    ///
    /// # Errors
    /// As [`Application::build`].
    pub async fn build_with_engines(
        settings: Settings,
        clock: SharedClock,
        engines: Vec<Arc<dyn DecisionEngine>>,
    ) -> anyhow::Result<Self> {
        settings.validate_access()?;
        warn_about_weak_passwords(&settings);
        let demo_mode = settings.demo_mode()?;
        if !demo_mode && settings.privacy.hmac_key.is_none() {
            tracing::warn!(
                "privacy.hmac_key is not set: e-mail addresses (OTP caps) and identifications \
                 (prospects) are keyed with a built-in key, as good as a plain hash; set a \
                 secret of 32 characters or more"
            );
        }
        let metrics = Metrics::new()?;
        let throttle = |realm| {
            LoginThrottle::new(
                realm,
                &settings.throttle,
                clock.clone(),
                Some(metrics.clone()),
            )
        };
        let throttled = settings.throttle.enabled;
        if !throttled {
            tracing::warn!("login throttling is off (throttle.enabled = false)");
        }
        let authenticator = authenticator(&settings)?.map(|a| {
            if throttled {
                a.with_throttle(throttle("callbacks"))
            } else {
                a
            }
        });
        let staff = backoffice::authenticator(&settings).map(|b| {
            if throttled {
                backoffice::StaffAuthenticator(b.0.with_throttle(throttle("backoffice")))
            } else {
                b
            }
        });
        let policy = Arc::new(
            PolicyHolder::load(settings.decision.policy_file.as_deref())
                .map_err(|e| anyhow::anyhow!("decision policy: {e}"))?,
        );
        {
            let current = policy.current();
            tracing::info!(
                policy.name = current.name(),
                policy.origin = current.origin(),
                policy.version = current.version(),
                engines = engines.len(),
                "decision policy loaded"
            );
        }
        // Always installed: a SIGHUP sent out of habit must never stop the service.
        spawn_reload_on_sighup(policy.clone()).context("Failed to install the SIGHUP handler")?;
        let decider = engines
            .into_iter()
            .fold(Decider::new(policy), Decider::with_engine);
        let consents = match &settings.consent.templates_dir {
            Some(dir) => services::consent::load_catalog(dir, &settings.consent.fallback_language),
            None => ConsentCatalog::built_in(&settings.consent.fallback_language),
        }
        .map_err(|e| anyhow::anyhow!("consent templates: {e}"))?;
        for required in &settings.consent.required_types {
            if !consents.knows(required) {
                bail!("consent.required_types names {required}, which has no consent text");
            }
        }
        let mail_templates = MailTemplates::load(
            settings.mail.templates_dir.as_deref(),
            &settings.mail.fallback_language,
        )
        .map_err(|e| anyhow::anyhow!("mail templates: {e}"))?;
        let mailer = Mailer::from_settings(&settings.mail)?.map(Arc::new);
        match &mailer {
            Some(m) => tracing::info!(
                smtp_server = m.endpoint(),
                deadline_ms = settings.otp.deadline_ms,
                languages = %mail_templates.languages().collect::<Vec<_>>().join(","),
                "OTP delivery by e-mail on"
            ),
            None => tracing::warn!(
                "no SMTP server configured (mail.smtp_host): /otp/send answers otpSent=false"
            ),
        }
        if settings.otp.deadline_ms >= 5000 {
            tracing::warn!(
                deadline_ms = settings.otp.deadline_ms,
                "otp.deadline_ms is not below the 5 s response timeout of 1.x Onboarding Servers"
            );
        }
        if settings.database.migrate_on_start {
            storage::migrate(&settings).await?;
        }
        let db = storage::Database::open(&settings).await?;
        if demo_mode {
            let txn = db.begin().await?;
            demo::seed(&txn, clock.now()).await?;
            txn.commit().await?;
        }
        let headers = CorrelationHeaders {
            correlation: HeaderName::try_from(settings.correlation.correlation_header.as_str())
                .context("correlation.correlation_header")?,
            request_id: HeaderName::try_from(settings.correlation.request_id_header.as_str())
                .context("correlation.request_id_header")?,
        };
        let document = openapi_document(&settings);
        let known_routes = routes::KnownRoutes::from_doc(&document);
        let openapi = settings.server.openapi_ui.then_some(document);
        let shared_settings = Arc::new(settings.clone());
        let worker = Worker::new(db.clone(), shared_settings.clone(), clock.clone())?;
        let runtime = Runtime {
            state: AppState {
                db,
                clock,
                settings: shared_settings,
                consents: Arc::new(consents),
                mailer,
                mail_templates: Arc::new(mail_templates),
                decider: Arc::new(decider),
            },
            metrics,
            authenticator,
            staff,
            headers,
            openapi,
            routes: known_routes,
            large_bodies: LargeBodies::new(settings.limits.max_concurrent_large_bodies),
        };
        if settings.onboarding_server.url.is_none() {
            tracing::warn!(
                "onboarding_server.url is not configured: review resolutions are queued but not delivered"
            );
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let worker_task = settings
            .delivery
            .worker_enabled
            .then(|| tokio::spawn(worker.run_until_stopped(stopped)));

        let listener = TcpListener::bind((settings.server.host, settings.server.port))
            .with_context(|| {
                format!(
                    "Failed to bind {}:{}",
                    settings.server.host, settings.server.port
                )
            })?;
        let port = listener.local_addr()?.port();
        let factory_settings = settings.clone();
        let mut server =
            HttpServer::new(move || app(factory_settings.clone(), Some(runtime.clone())).0)
                .listen(listener)?
                .shutdown_timeout(settings.server.shutdown_timeout_secs)
                .keep_alive(Duration::from_secs(settings.server.keep_alive_secs));
        if let Some(workers) = settings.server.workers {
            server = server.workers(workers);
        }
        tracing::info!(
            host = %settings.server.host,
            port,
            base_path = %settings.server.base_path,
            "onboarding-adapter listening"
        );
        Ok(Self {
            port,
            server: server.run(),
            stop,
            worker: worker_task,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server (graceful).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until SIGTERM/SIGINT (graceful: in-flight requests finish) or the handle stops it.
    ///
    /// # Errors
    /// I/O errors of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        // The server has drained; let the worker finish its current message and stop.
        let _ = self.stop.send(true);
        if let Some(worker) = self.worker {
            let _ = worker.await;
        }
        result
    }
}

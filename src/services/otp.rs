//! Delivering an OTP code by e-mail: find the address, enforce the send caps, render the
//! template, send within the deadline, record the attempt.
//!
//! `otpSent` is true only when the SMTP server accepted the message. Every way of not
//! sending (no SMTP configured, unknown user, no address, cap reached, SMTP refused, down
//! or slow) is an HTTP 200 with `otpSent: false` and a delivery record saying why. The
//! code is only ever put into the message: it is not stored, logged or put into an error.

use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lettre::Address;
use sea_orm::DatabaseTransaction;
use secrecy::ExposeSecret;

use super::Error;
use crate::api::otp::{OtpSendRequest, OtpType};
use crate::configuration::{AddressFallback, Settings};
use crate::domain::otp_delivery::{AddressSource, Outcome, mask_address};
use crate::domain::pseudonym;
use crate::email::{FailureClass, MailTemplates, Mailer, OutgoingMail, Values};
use crate::observe::RequestContext;
use crate::storage::otp::{self, CapScope, Delivery, Finish};
use crate::storage::{Database, contacts, customers, processes};

/// What delivering an OTP needs.
pub struct Deps<'a> {
    pub db: &'a Database,
    pub settings: &'a Settings,
    /// `None` when no SMTP server is configured.
    pub mailer: Option<&'a Mailer>,
    pub templates: &'a MailTemplates,
    pub now: DateTime<Utc>,
}

/// Where the code goes.
struct Destination {
    address: Address,
    source: AddressSource,
    /// The customer's preferred language from the registry.
    language: Option<String>,
}

/// Delivers the code of `req`; `started` is when the request arrived (the deadline counts
/// from there). Returns `otpSent`.
///
/// # Errors
/// Only database failures before anything was sent (the caps cannot be checked without
/// the database); SMTP failures are never errors.
pub async fn deliver(
    deps: &Deps<'_>,
    ctx: &RequestContext,
    req: &OtpSendRequest,
    started: Instant,
) -> Result<bool, Error> {
    let now = deps.now;
    // The process, the destination and the reservation of the attempt in one transaction,
    // committed before anything is sent: a message out always has its record.
    let txn = deps.db.begin().await?;
    processes::touch(
        &txn,
        processes::ProcessSeen {
            process_id: &req.process_id,
            process_type: req.process_type.as_deref(),
            user_id: Some(&req.user_id),
            identity_verification_id: None,
            callback: "otp_send",
        },
        now,
    )
    .await?;
    let otp_type = req.otp_type.unwrap_or(OtpType::Activation);
    let mut delivery = Delivery::new(
        &req.process_id,
        req.process_type.as_deref(),
        &req.user_id,
        otp_type.as_str(),
        req.resend.unwrap_or(false),
        req.language.as_deref(),
        Outcome::Pending,
    );
    let elapsed_ms =
        |since: Instant| i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX);

    let Some(mailer) = deps.mailer else {
        delivery.outcome = Outcome::NotConfigured.as_str().to_owned();
        delivery.detail = Some("no SMTP server configured (mail.smtp_host)".into());
        delivery.duration_ms = elapsed_ms(started);
        otp::record(&txn, delivery, ctx, now).await?;
        txn.commit().await?;
        tracing::warn!(
            otp_type = otp_type.as_str(),
            outcome = Outcome::NotConfigured.as_str(),
            "OTP not sent: no SMTP server configured"
        );
        return Ok(false);
    };

    let destination = match destination(&txn, deps, req).await? {
        Ok(destination) => destination,
        Err((outcome, detail)) => {
            delivery.outcome = outcome.as_str().to_owned();
            delivery.detail = Some(detail.to_owned());
            delivery.duration_ms = elapsed_ms(started);
            otp::record(&txn, delivery, ctx, now).await?;
            txn.commit().await?;
            tracing::warn!(
                otp_type = otp_type.as_str(),
                outcome = outcome.as_str(),
                reason = detail,
                "OTP not sent"
            );
            return Ok(false);
        }
    };
    let masked = mask_address(destination.address.as_ref());
    delivery.destination_key = Some(destination_key(deps.settings, destination.address.as_ref()));
    let language = deps
        .templates
        .language([req.language.as_deref(), destination.language.as_deref()]);
    delivery.destination_masked = Some(masked.clone());
    delivery.destination_source = Some(destination.source.as_str().to_owned());
    delivery.mail_language = Some(language.clone());

    // Reserve first (committed), count after: concurrent requests (on any instance) see
    // each other's reservations, so together they never exceed a cap.
    let id = otp::record(&txn, delivery, ctx, now).await?;
    txn.commit().await?;
    if let Some(reason) = over_cap(deps, req, destination.address.as_ref(), now).await? {
        let finish = Finish {
            outcome: Outcome::Capped,
            detail: Some(reason.clone()),
            smtp_code: None,
            error_class: None,
            message_id: None,
            smtp_ms: None,
            duration_ms: elapsed_ms(started),
        };
        record_finish(deps, id, finish).await?;
        tracing::warn!(
            otp_type = otp_type.as_str(),
            outcome = Outcome::Capped.as_str(),
            destination = %masked,
            reason = %reason,
            "OTP not sent: send cap reached"
        );
        return Ok(false);
    }

    let settings = &deps.settings.otp;
    let rendered = deps.templates.render(
        &language,
        otp_type,
        &Values {
            code: req.otp_code.secret().expose_secret(),
            validity_minutes: settings.validity_minutes,
        },
    );
    let budget = Duration::from_millis(settings.deadline_ms).saturating_sub(started.elapsed());
    let report = mailer
        .send(
            OutgoingMail {
                to: &destination.address,
                subject: &rendered.subject,
                text: rendered.text,
                html: rendered.html,
                correlation_id: &ctx.correlation_id,
                date: now.into(),
            },
            budget,
        )
        .await;

    let smtp_ms = i64::try_from(report.elapsed.as_millis()).unwrap_or(i64::MAX);
    let (finish, sent) = match &report.result {
        Ok(code) => (
            Finish {
                outcome: Outcome::Sent,
                detail: None,
                smtp_code: Some(i32::from(*code)),
                error_class: None,
                message_id: Some(report.message_id.clone()),
                smtp_ms: Some(smtp_ms),
                duration_ms: elapsed_ms(started),
            },
            true,
        ),
        Err(failure) => (
            Finish {
                outcome: match failure.class {
                    FailureClass::Permanent => Outcome::Rejected,
                    FailureClass::Timeout => Outcome::Timeout,
                    _ => Outcome::Failed,
                },
                detail: Some(failure.detail.clone()),
                smtp_code: failure.smtp_code.map(i32::from),
                error_class: Some(failure.class.as_str().to_owned()),
                message_id: Some(report.message_id.clone()),
                smtp_ms: Some(smtp_ms),
                duration_ms: elapsed_ms(started),
            },
            false,
        ),
    };
    let outcome = finish.outcome;
    let (smtp_code, error_class, detail) = (
        finish.smtp_code,
        finish.error_class.clone(),
        finish.detail.clone(),
    );
    // The message is out (or not); a failing write must not turn that into a 5xx.
    if let Err(e) = record_finish(deps, id, finish).await {
        tracing::error!(error.cause_chain = ?e, delivery_id = id, "Failed to record the OTP delivery outcome");
    }
    if sent {
        tracing::info!(
            otp_type = otp_type.as_str(),
            outcome = outcome.as_str(),
            destination = %masked,
            language = %language,
            smtp_code,
            smtp_ms,
            message_id = %report.message_id,
            "OTP sent"
        );
    } else {
        tracing::warn!(
            otp_type = otp_type.as_str(),
            outcome = outcome.as_str(),
            destination = %masked,
            smtp_server = mailer.endpoint(),
            smtp_code,
            error_class,
            detail,
            smtp_ms,
            "OTP not sent: the SMTP server did not accept the message"
        );
    }
    Ok(sent)
}

/// The registry's address for the user, or the documented fallback (see
/// [`AddressFallback`]), or why there is none.
async fn destination(
    txn: &DatabaseTransaction,
    deps: &Deps<'_>,
    req: &OtpSendRequest,
) -> Result<Result<Destination, (Outcome, &'static str)>, Error> {
    let fallback = deps.settings.otp.address_fallback;
    let customer = customers::find_by_user_id(txn, &req.user_id).await?;
    // The address the identification carried, refused unless its domain is allowed.
    let from_identification = |language: Option<String>| async move {
        let found = contacts::find(txn, &req.process_id, &req.user_id).await?;
        Ok::<_, Error>(
            found
                .and_then(|email| Address::from_str(&email).ok())
                .map(|address| {
                    if fallback_allowed(deps.settings, &address) {
                        Ok(Destination {
                            address,
                            source: AddressSource::Identification,
                            language,
                        })
                    } else {
                        Err((
                            Outcome::NoAddress,
                            "fallback address not at a domain of otp.fallback_domains",
                        ))
                    }
                }),
        )
    };
    let Some(customer) = customer else {
        if fallback != AddressFallback::Never
            && let Some(found) = from_identification(None).await?
        {
            return Ok(found);
        }
        return Ok(Err((
            Outcome::UnknownUser,
            "user not in the customer registry and no fallback address",
        )));
    };
    if !customer.active {
        return Ok(Err((
            Outcome::InactiveUser,
            "customer is deactivated in the registry",
        )));
    }
    let registry_address = customer
        .email
        .as_deref()
        .and_then(|e| Address::from_str(e.trim()).ok());
    if let Some(address) = registry_address {
        return Ok(Ok(Destination {
            address,
            source: AddressSource::Registry,
            language: customer.language,
        }));
    }
    if fallback == AddressFallback::MissingAddress
        && let Some(found) = from_identification(customer.language.clone()).await?
    {
        return Ok(found);
    }
    Ok(Err((
        Outcome::NoAddress,
        if customer.email.is_some() {
            "registry e-mail address is not valid"
        } else {
            "no e-mail address in the customer registry"
        },
    )))
}

/// Why a cap forbids this send, if one does. The current attempt is already reserved and
/// therefore counted.
async fn over_cap(
    deps: &Deps<'_>,
    req: &OtpSendRequest,
    destination: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, Error> {
    let s = &deps.settings.otp;
    let window = chrono::Duration::seconds(i64::try_from(s.cap_window_secs).unwrap_or(i64::MAX));
    let since = now
        .checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let key = destination_key(deps.settings, destination);
    for (scope, max, name) in [
        (
            CapScope::Process(&req.process_id),
            s.max_per_process,
            "process",
        ),
        (CapScope::User(&req.user_id), s.max_per_user, "user"),
        (
            CapScope::Destination(&key),
            s.max_per_destination,
            "destination",
        ),
        (CapScope::All, s.max_global, "global"),
    ] {
        if max == 0 {
            continue;
        }
        let attempts = otp::count_attempts(deps.db.reads(), scope, since).await?;
        if attempts > u64::from(max) {
            return Ok(Some(format!(
                "{name} cap: at most {max} sends per {} s",
                s.cap_window_secs
            )));
        }
    }
    Ok(None)
}

/// Whether a fallback address (typed by the app user) may be mailed: its domain is one of
/// `otp.fallback_domains` (or a subdomain of one), or the list holds `*`.
fn fallback_allowed(settings: &Settings, address: &Address) -> bool {
    let domain = address.domain().to_ascii_lowercase();
    settings.otp.fallback_domains.iter().any(|allowed| {
        let allowed = allowed.trim().trim_start_matches('.').to_ascii_lowercase();
        allowed == "*"
            || domain == allowed
            || domain
                .strip_suffix(&allowed)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

/// The key the destination cap counts an address by: HMAC-SHA256 (hex) of the address,
/// lower-cased, under `privacy.hmac_key`. The address itself is never stored.
fn destination_key(settings: &Settings, address: &str) -> String {
    let address = address.trim().to_lowercase();
    pseudonym::keyed(settings.privacy.key_bytes(), address.as_bytes())
}

/// Records how an attempt ended, in a transaction of its own (the reservation committed
/// before the message was sent).
async fn record_finish(deps: &Deps<'_>, id: i64, finish: Finish) -> Result<(), Error> {
    let txn = deps.db.begin().await?;
    otp::finish(&txn, id, finish).await?;
    txn.commit().await?;
    Ok(())
}

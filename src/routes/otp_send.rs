use std::time::Instant;

use actix_web::{post, web};

use crate::api::otp::{OtpSendRequest, OtpSendResponse};
use crate::error::{ApiError, ErrorBody};
use crate::extract::CallbackJson;
use crate::observe::RequestContext;
use crate::services::otp;
use crate::state::AppState;

/// Deliver an OTP code.
///
/// E-mails the code the Onboarding Server generated to the customer's address from the
/// registry (users the registry does not know: the address their lookup identification
/// carried, when configured), with a subject and body in `language` for the `otpType`.
/// `otpSent` is true only when the SMTP server accepted the message within the configured
/// deadline. Unknown user, missing address, send cap reached, or an SMTP server that is
/// down, refuses or is slow all answer `otpSent: false` with HTTP 200 (never a 5xx). A
/// delivery record is stored per attempt (type, resend flag, masked destination, outcome,
/// SMTP reply code or error class, timings); the code itself is never stored or logged.
#[utoipa::path(
    tag = "callbacks",
    request_body = OtpSendRequest,
    responses(
        (status = 200, description = "Delivery attempted", body = OtpSendResponse),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or wrong credentials", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("basic_auth" = []))
)]
#[post("/otp/send")]
#[tracing::instrument(name = "otp_send", skip_all, fields(process_id = %body.0.process_id))]
pub async fn otp_send(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: CallbackJson<OtpSendRequest>,
) -> Result<web::Json<OtpSendResponse>, ApiError> {
    let started = Instant::now();
    let req = body.0;
    let deps = otp::Deps {
        db: &state.db,
        settings: &state.settings,
        mailer: state.mailer.as_deref(),
        templates: &state.mail_templates,
        now: state.clock.now(),
    };
    let otp_sent = otp::deliver(&deps, &ctx, &req, started).await?;
    Ok(web::Json(OtpSendResponse { otp_sent }))
}

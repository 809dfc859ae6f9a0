use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::{check_id, check_len};
use crate::extract::CallbackBody;

/// The OTP code to deliver. Kept secret: its `Debug` is redacted and it is never stored.
pub struct OtpCode(SecretString);

impl OtpCode {
    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

impl std::fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtpCode([REDACTED])")
    }
}

impl<'de> Deserialize<'de> for OtpCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| OtpCode(SecretString::from(s)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OtpType {
    /// OTP at onboarding start (and its resends).
    Activation,
    /// OTP during identity verification (2.x).
    UserVerification,
}

impl OtpType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activation => "ACTIVATION",
            Self::UserVerification => "USER_VERIFICATION",
        }
    }
}

/// `POST /otp/send` request: deliver the code the Onboarding Server generated.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "processId": "5b0c6a52-6f0e-4d7e-9d0a-2f1f3c9a7e11", "processType": "onboarding",
    "userId": "C-1001", "language": "cs", "otpCode": "48213907",
    "otpType": "USER_VERIFICATION", "resend": false
}))]
pub struct OtpSendRequest {
    #[schema(min_length = 1, max_length = 128, pattern = "[^ \\t\\r\\n]")]
    pub process_id: String,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub process_type: Option<String>,
    #[schema(min_length = 1, max_length = 128, pattern = "[^ \\t\\r\\n]")]
    pub user_id: String,
    /// ISO 639-1, lower-case; the configured fallback language applies when absent.
    #[serde(default)]
    #[schema(max_length = 16)]
    pub language: Option<String>,
    #[schema(value_type = String, example = "48213907", min_length = 1, max_length = 64, pattern = "[^ \\t\\r\\n]")]
    pub otp_code: OtpCode,
    /// `ACTIVATION` when absent (1.x servers sent only that type).
    #[serde(default)]
    pub otp_type: Option<OtpType>,
    #[serde(default)]
    pub resend: Option<bool>,
}

impl CallbackBody for OtpSendRequest {
    fn validate(&self) -> Result<(), String> {
        use secrecy::ExposeSecret;
        check_id("processId", &self.process_id)?;
        check_id("userId", &self.user_id)?;
        super::check_opt_id("processType", self.process_type.as_ref())?;
        if let Some(language) = &self.language {
            check_len("language", language, 16)?;
        }
        let code = self.otp_code.0.expose_secret();
        if super::is_blank(code) {
            return Err("field `otpCode` must not be blank".into());
        }
        // The code goes into mail bodies (and maybe a subject): no line breaks or controls.
        if code.chars().any(char::is_control) {
            return Err("field `otpCode` must not contain control characters".into());
        }
        check_len("otpCode", code, 64)
    }
}

/// `POST /otp/send` answer: `otpSent` is true only when the code was handed over for
/// delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"otpSent": true}))]
pub struct OtpSendResponse {
    pub otp_sent: bool,
}

//! `CallbackJson<T>`: the JSON body extractor of the callbacks.
//!
//! Unlike `web::Json` it enforces a per-callback body limit (413), insists on a JSON
//! content type (415), checks the body's shape (nesting, element count) on the bytes as
//! they arrive and its semantic limits after parsing (400), lets only a few large bodies be
//! read at once, and turns serde errors into messages that name the field and what was
//! expected but never echo the value sent (it may be an OTP code or personal data).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::configuration::LimitSettings;
use crate::error::ApiError;
use crate::json_shape::ShapeScanner;

/// Which configured body limit applies to a request type.
#[derive(Debug, Clone, Copy)]
pub enum BodyLimit {
    Default,
    Evaluate,
    Approve,
    Event,
}

impl BodyLimit {
    fn bytes(self, limits: &LimitSettings) -> usize {
        match self {
            Self::Default => limits.default_body_bytes,
            Self::Evaluate => limits.evaluate_body_bytes,
            Self::Approve => limits.approve_body_bytes,
            Self::Event => limits.event_body_bytes,
        }
    }
}

/// A request body type of a callback, with its body limit and semantic checks that serde
/// cannot express (non-blank ids, lengths).
pub trait CallbackBody: DeserializeOwned {
    const LIMIT: BodyLimit = BodyLimit::Default;

    /// # Errors
    /// A message naming the offending field.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// Limits of the configured shape (documents, images, text lengths).
    ///
    /// # Errors
    /// A message naming the field and the limit.
    fn check_limits(&self, _limits: &LimitSettings) -> Result<(), String> {
        Ok(())
    }
}

/// A parsed callback body. A large one holds one of the [`LargeBodies`] permits until the
/// request is answered.
pub struct CallbackJson<T>(
    pub T,
    #[allow(dead_code)] // held for its drop: the turn ends when the request is answered
    Option<OwnedSemaphorePermit>,
);

/// How many large bodies (above 256 KiB, or of unknown length) may be read, parsed and
/// handled at once (`limits.max_concurrent_large_bodies`): the others wait before their
/// body is read, so the memory bodies take stays bounded whatever the number of callers.
#[derive(Clone)]
pub struct LargeBodies(Arc<Semaphore>);

impl LargeBodies {
    pub fn new(permits: usize) -> Self {
        Self(Arc::new(Semaphore::new(permits.max(1))))
    }
}

/// Bodies larger than this are parsed on the blocking pool: reading megabytes of JSON (and
/// decoding the images in it) would otherwise stall every other request of the worker.
const PARSE_OFF_WORKER_BYTES: usize = 256 * 1024;

impl<T: CallbackBody + Send + 'static> FromRequest for CallbackJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limits = req.app_data::<web::Data<LimitSettings>>().map_or_else(
            || crate::configuration::Settings::default().limits,
            |l| l.get_ref().clone(),
        );
        let limit = T::LIMIT.bytes(&limits);
        let large_bodies = req.app_data::<web::Data<LargeBodies>>().cloned();
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|essence| {
                let essence = essence.trim().to_ascii_lowercase();
                essence == "application/json" || essence.ends_with("+json")
            })
            .unwrap_or(false);
        let declared_length = declared_length(req);
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::UnsupportedMediaType.into());
            }
            if declared_length.is_some_and(|n| n > limit) {
                return Err(ApiError::PayloadTooLarge { limit }.into());
            }
            let needs_turn = declared_length.is_none_or(|n| n > PARSE_OFF_WORKER_BYTES);
            let permit = match &large_bodies {
                Some(turns) if needs_turn => Some(
                    turns
                        .0
                        .clone()
                        .acquire_owned()
                        .await
                        .map_err(|e| not_finished(&e))?,
                ),
                _ => None,
            };
            let shape = ShapeScanner::new(limits.json_max_depth, limits.json_max_elements);
            let value = match declared_length {
                Some(declared) if declared > PARSE_OFF_WORKER_BYTES => {
                    read_off_worker::<T>(&mut payload, declared, shape, limits).await?
                }
                _ => {
                    let body = collect(&mut payload, declared_length, limit, shape).await?;
                    if body.len() > PARSE_OFF_WORKER_BYTES {
                        web::block(move || read_body::<T>(&body, &limits))
                            .await
                            .map_err(|e| not_finished(&e))?
                    } else {
                        read_body::<T>(&body, &limits)
                    }
                    .map_err(ApiError::BadRequest)?
                }
            };
            Ok(CallbackJson(value, permit))
        })
    }
}

/// The body of an action that takes no input (policy reload, outbox retry, purge): empty,
/// or the empty JSON object `{}` (the back office's CSRF guard already insisted on a JSON
/// content type). Anything else is a 400, as the OpenAPI document says.
pub struct NoInput;

/// Longest body an action without input reads.
const NO_INPUT_LIMIT: usize = 4 * 1024;

impl FromRequest for NoInput {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = declared_length(req);
        let mut payload = payload.take();
        Box::pin(async move {
            let shape = ShapeScanner::new(32, 1000);
            let body = collect(&mut payload, declared, NO_INPUT_LIMIT, shape).await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Self);
            }
            match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body) {
                Ok(object) if object.is_empty() => Ok(Self),
                _ => Err(ApiError::bad_request("request body must be empty or {}").into()),
            }
        })
    }
}

/// The body size the request declares (`Content-Length`), if it declares one.
pub fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Parses and validates a callback body.
fn read_body<T: CallbackBody>(body: &[u8], limits: &LimitSettings) -> Result<T, String> {
    let value = parse::<T>(body)?;
    value.validate()?;
    value.check_limits(limits)?;
    Ok(value)
}

fn not_finished(e: &impl std::fmt::Display) -> ApiError {
    ApiError::Unexpected(anyhow::anyhow!(
        "reading the request body did not finish: {e}"
    ))
}

/// The whole body, refused once it exceeds `limit` or its shape budget.
async fn collect(
    payload: &mut Payload,
    declared_length: Option<usize>,
    limit: usize,
    mut shape: ShapeScanner,
) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::with_capacity(declared_length.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_request("request body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        shape
            .feed(&chunk)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A large body (an evaluate call with images) is handed chunk by chunk to a thread of the
/// blocking pool, which collects, parses and validates it, decoding the images on the way:
/// the async worker never holds the megabytes, and other requests on it are not stalled
/// while they are parsed.
async fn read_off_worker<T: CallbackBody + Send + 'static>(
    payload: &mut Payload,
    declared: usize,
    mut shape: ShapeScanner,
    limits: LimitSettings,
) -> Result<T, ApiError> {
    let limit = T::LIMIT.bytes(&limits);
    // `None`: the body was refused; the reader stops without parsing what it has. The
    // channel closing early (the request future dropped) stops it the same way.
    let (chunks, mut incoming) = tokio::sync::mpsc::channel::<Option<web::Bytes>>(16);
    let reading = web::block(move || {
        let mut body = Vec::with_capacity(declared);
        while let Some(chunk) = incoming.blocking_recv() {
            body.extend_from_slice(&chunk?);
        }
        // Fewer bytes than declared: the request was dropped mid-body (client gone); there
        // is nobody to answer, so nothing is parsed.
        (body.len() == declared).then(|| read_body::<T>(&body, &limits))
    });
    let mut received = 0_usize;
    let forwarded = async {
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|_| ApiError::bad_request("request body could not be read"))?;
            received += chunk.len();
            if received > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            shape
                .feed(&chunk)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            if chunks.send(Some(chunk)).await.is_err() {
                break; // the reader has stopped; its result tells why
            }
        }
        Ok(())
    }
    .await;
    if let Err(refused) = forwarded {
        let _ = chunks.send(None).await;
        return Err(refused);
    }
    drop(chunks);
    match reading.await {
        Ok(Some(read)) => read.map_err(ApiError::BadRequest),
        Ok(None) => Err(ApiError::bad_request("request body could not be read")),
        Err(e) => Err(not_finished(&e)),
    }
}

/// Reads a nested request struct only from a JSON object. serde's derive also reads a
/// struct from an array of its fields in order (`[null, "…"]`), which the OpenAPI document
/// does not allow; [`object_only!`](crate::object_only) routes a type through this visitor
/// instead. The struct keeps its derives with `#[serde(remote = "Self")]`.
pub trait FromObject: Sized {
    /// # Errors
    /// The derived deserialiser's errors.
    fn from_map<'de, A: serde::de::MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

pub struct ObjectVisitor<T>(std::marker::PhantomData<T>);

impl<T> Default for ObjectVisitor<T> {
    fn default() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<'de, T: FromObject> serde::de::Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_map(map)
    }
}

/// Implements `Deserialize` (objects only, see [`FromObject`]) and `Serialize` for structs
/// that derive both with `#[serde(remote = "Self")]`.
#[macro_export]
macro_rules! object_only {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::extract::FromObject for $t {
            fn from_map<'de, A: serde::de::MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
                <$t>::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_map($crate::extract::ObjectVisitor::<$t>::default())
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }
    )*};
}

/// Deserialises `body`, describing failures without quoting the input.
///
/// # Errors
/// A caller-facing message: the field path and what was expected.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    if body.is_empty() {
        return Err("request body is empty; a JSON object is expected".into());
    }
    // serde would also read a struct from a JSON array; the contract only has objects.
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => return Err("request body is empty; a JSON object is expected".into()),
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() => {
            return Err("malformed JSON".into());
        }
        Some(_) => return Err("request body must be a JSON object".into()),
    }
    // A valid body is read once, plainly; only a failing one is read again, tracking the
    // path of what failed for the message.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = result.map_err(|e| describe(e.path().to_string(), e.inner()))?;
    de.end()
        .map_err(|_| "request body has trailing characters after the JSON value".to_owned())?;
    Ok(value)
}

fn describe(path: String, err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => format!(
            "malformed JSON at line {} column {}",
            err.line(),
            err.column()
        ),
        Category::Data => {
            let text = err.to_string();
            if let Some(rest) = text.strip_prefix("missing field `") {
                let field = rest.split('`').next().unwrap_or_default();
                let full = if path == "." || path.is_empty() {
                    field.to_owned()
                } else {
                    format!("{path}.{field}")
                };
                return format!("missing required field `{full}`");
            }
            // serde's message is "<what was found>, expected <what>"; only the expected
            // part comes from our schema, the found part may quote the caller's value.
            let expected = text
                .rsplit_once(", expected ")
                .map(|(_, e)| strip_position(e))
                .or_else(|| text.strip_prefix("expected ").map(strip_position));
            let at = if path == "." || path.is_empty() {
                "the request body".to_owned()
            } else {
                format!("field `{path}`")
            };
            match expected {
                Some(expected) => format!("invalid value for {at}: expected {expected}"),
                None => format!("invalid value for {at}"),
            }
        }
    }
}

fn strip_position(s: &str) -> String {
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Probe {
        process_id: String,
        otp_code: String,
        resend: Option<bool>,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        kind: Kind,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    enum Kind {
        A,
        B,
    }

    #[test]
    fn messages_name_the_field_and_never_quote_the_value() {
        let cases: &[(&str, &str)] = &[
            (r#"{"otpCode":"1"}"#, "missing required field `processId`"),
            (
                r#"{"processId":"p","otpCode":"1","resend":"48213907"}"#,
                "invalid value for field `resend`: expected a boolean",
            ),
            (
                r#"{"processId":"p","otpCode":48213907}"#,
                "invalid value for field `otpCode`: expected a string",
            ),
            (
                r#"{"processId":"p","otpCode":"1","inner":{"kind":"SECRET-48213907"}}"#,
                "invalid value for field `inner.kind`: expected `A` or `B`",
            ),
            (r#"{"processId":"p","#, "malformed JSON at line 1 column 17"),
            (r#"[1]"#, "request body must be a JSON object"),
            ("  ", "request body is empty; a JSON object is expected"),
            ("nul", "malformed JSON"),
            ("", "request body is empty; a JSON object is expected"),
        ];
        for (body, expected) in cases {
            let err = parse::<Probe>(body.as_bytes()).expect_err(body);
            assert_eq!(&err, expected, "for body {body}");
            assert!(!err.contains("48213907"), "value leaked for {body}: {err}");
        }
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let p: Probe =
            parse(br#"{"processId":"p","otpCode":"1","future":{"x":1}}"#).expect("parses");
        assert_eq!(p.process_id, "p");
    }
}

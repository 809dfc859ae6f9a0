//! What every outbound HTTP call shares: the process-wide TLS crypto provider, answers
//! read within a size cap, and errors described without credentials.

/// Reads a response body, refusing one longer than `max` bytes (without reading past it).
///
/// # Errors
/// A description of the failure (the body was too long, or reading it failed).
pub async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(format!("response body longer than {max} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > max {
            return Err(format!("response body longer than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What went wrong in a call, without credentials (they travel in headers, never in the
/// URL reqwest's errors quote).
pub fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body"
    } else {
        "request failed"
    };
    format!("{kind}: {e}")
}

/// rustls needs one process-wide crypto provider; ring is the one the whole tree uses.
pub fn install_crypto_provider() {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

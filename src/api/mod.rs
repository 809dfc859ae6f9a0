//! Wire DTOs of the callbacks, shaped exactly as the Onboarding Server (1.x, 2.1, 2.2) sends
//! and reads them (see `contract.md`). Unknown fields are ignored everywhere.

pub mod backoffice;
pub mod client;
pub mod consent;
pub mod dates;
pub mod event;
pub mod otp;
pub mod user;

/// Longest id (processId, userId, …) accepted; longer values are refused with a 400.
pub const MAX_ID_LEN: usize = 128;

/// True when `value` is empty or only spaces, tabs, CRs and LFs. The OpenAPI document says
/// the same of required ids with `minLength: 1` and the pattern `[^ \t\r\n]` (at least one
/// other character), which every regex engine reads alike.
pub fn is_blank(value: &str) -> bool {
    value.trim_matches([' ', '\t', '\r', '\n']).is_empty()
}

/// Checks a required id: present (serde did that), not blank, not too long.
///
/// # Errors
/// A message naming the field.
pub fn check_id(field: &str, value: &str) -> Result<(), String> {
    if is_blank(value) {
        return Err(format!("field `{field}` must not be blank"));
    }
    check_len(field, value, MAX_ID_LEN)
}

/// Checks an optional id when present.
///
/// # Errors
/// A message naming the field.
pub fn check_opt_id(field: &str, value: Option<&String>) -> Result<(), String> {
    value.map_or(Ok(()), |v| check_len(field, v, MAX_ID_LEN))
}

/// # Errors
/// A message naming the field and the limit.
pub fn check_len(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() > max {
        return Err(format!("field `{field}` is longer than {max} characters"));
    }
    Ok(())
}

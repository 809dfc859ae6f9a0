//! Matching the free-form `identification` of `/user/lookup` against the registry.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::pseudonym;

/// An identification attribute the registry can be matched on; the name is the key the
/// mobile app sends in `identification`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum LookupKey {
    #[serde(rename = "clientNumber")]
    ClientNumber,
    #[serde(rename = "birthDate")]
    BirthDate,
    #[serde(rename = "email")]
    Email,
    #[serde(rename = "phoneNumber")]
    PhoneNumber,
    #[serde(rename = "userId")]
    UserId,
}

impl LookupKey {
    pub fn attribute(self) -> &'static str {
        match self {
            Self::ClientNumber => "clientNumber",
            Self::BirthDate => "birthDate",
            Self::Email => "email",
            Self::PhoneNumber => "phoneNumber",
            Self::UserId => "userId",
        }
    }

    /// Normalises a value the way the registry stores it.
    pub fn normalise(self, raw: &str) -> String {
        let trimmed = raw.trim();
        match self {
            Self::Email => trimmed.to_lowercase(),
            Self::PhoneNumber => trimmed
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect(),
            Self::ClientNumber | Self::BirthDate | Self::UserId => trimmed.to_owned(),
        }
    }
}

/// The normalised values of the configured keys, in configuration order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupQuery {
    pub values: Vec<(LookupKey, String)>,
}

impl LookupQuery {
    /// Picks the configured keys out of `identification`. Strings and numbers are accepted.
    ///
    /// # Errors
    /// A message naming the first missing or unusable attribute.
    pub fn from_identification(
        keys: &[LookupKey],
        identification: &Map<String, Value>,
    ) -> Result<Self, String> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            let raw = match identification.get(key.attribute()) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Null) | None => {
                    return Err(format!(
                        "identification attribute `{}` is required",
                        key.attribute()
                    ));
                }
                Some(_) => {
                    return Err(format!(
                        "identification attribute `{}` must be a string",
                        key.attribute()
                    ));
                }
            };
            let value = key.normalise(&raw);
            if value.is_empty() {
                return Err(format!(
                    "identification attribute `{}` must not be blank",
                    key.attribute()
                ));
            }
            values.push((*key, value));
        }
        Ok(Self { values })
    }

    /// The key prospects are stored under: HMAC-SHA256 (hex) of the query under `key`
    /// (`privacy.hmac_key`), so the low-entropy values cannot be guessed back from the
    /// database without the key.
    pub fn keyed_digest(&self, key: &[u8]) -> String {
        pseudonym::keyed(key, &self.canonical())
    }

    /// The key prospects were stored under before [`LookupQuery::keyed_digest`]: an
    /// unsalted SHA-256 of the same bytes. Only looked up (and then re-keyed), never stored.
    pub fn legacy_digest(&self) -> String {
        hex::encode(Sha256::digest(self.canonical()))
    }

    /// `attribute NUL value NUL` for every configured key, in configuration order.
    fn canonical(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (key, value) in &self.values {
            bytes.extend_from_slice(key.attribute().as_bytes());
            bytes.push(0);
            bytes.extend_from_slice(value.as_bytes());
            bytes.push(0);
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn configured_keys_are_picked_and_normalised() {
        let q = LookupQuery::from_identification(
            &[LookupKey::ClientNumber, LookupKey::Email],
            &map(json!({"clientNumber": " 123 ", "email": "Jan.Novak@Example.COM", "x": 1})),
        )
        .expect("valid");
        assert_eq!(
            q.values,
            vec![
                (LookupKey::ClientNumber, "123".to_owned()),
                (LookupKey::Email, "jan.novak@example.com".to_owned())
            ]
        );
    }

    #[test]
    fn numbers_are_accepted_as_strings() {
        let q = LookupQuery::from_identification(
            &[LookupKey::ClientNumber],
            &map(json!({"clientNumber": 12345678})),
        )
        .expect("valid");
        assert_eq!(q.values[0].1, "12345678");
    }

    #[test]
    fn missing_blank_or_structured_attributes_are_refused() {
        for (ident, msg) in [
            (
                json!({}),
                "identification attribute `clientNumber` is required",
            ),
            (
                json!({"clientNumber": null}),
                "identification attribute `clientNumber` is required",
            ),
            (
                json!({"clientNumber": "  "}),
                "identification attribute `clientNumber` must not be blank",
            ),
            (
                json!({"clientNumber": {"a": 1}}),
                "identification attribute `clientNumber` must be a string",
            ),
        ] {
            let err =
                LookupQuery::from_identification(&[LookupKey::ClientNumber], &map(ident.clone()))
                    .expect_err("must fail");
            assert_eq!(err, msg, "for {ident}");
        }
    }

    #[test]
    fn digest_depends_on_every_value_and_not_on_extra_attributes() {
        let keys = [LookupKey::ClientNumber, LookupKey::BirthDate];
        let d = |v: Value| {
            LookupQuery::from_identification(&keys, &map(v))
                .expect("valid")
                .keyed_digest(b"test key")
        };
        let a = d(json!({"clientNumber": "1", "birthDate": "2000-01-01"}));
        assert_eq!(
            a,
            d(json!({"clientNumber": "1 ", "birthDate": "2000-01-01", "other": "x"}))
        );
        assert_ne!(
            a,
            d(json!({"clientNumber": "1", "birthDate": "2000-01-02"}))
        );
        assert_ne!(
            a,
            d(json!({"clientNumber": "12", "birthDate": "000-01-01"}))
        );
    }

    #[test]
    fn the_keyed_digest_depends_on_the_key_and_is_not_the_legacy_sha256() {
        let q = LookupQuery::from_identification(
            &[LookupKey::ClientNumber],
            &map(json!({"clientNumber": "1"})),
        )
        .expect("valid");
        assert_ne!(q.keyed_digest(b"key one"), q.keyed_digest(b"key two"));
        assert_ne!(q.keyed_digest(b"key one"), q.legacy_digest());
        // The legacy key is SHA-256("clientNumber\0" "1\0"), as stored before.
        assert_eq!(
            q.legacy_digest(),
            hex::encode(Sha256::digest(b"clientNumber\x001\x00"))
        );
    }
}

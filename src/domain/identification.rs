//! Matching the free-form `identification` of `/user/lookup` against the registry.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

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

    /// A stable digest of the query, used to key prospects without storing the values.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for (key, value) in &self.values {
            hasher.update(key.attribute().as_bytes());
            hasher.update([0u8]);
            hasher.update(value.as_bytes());
            hasher.update([0u8]);
        }
        hex::encode(hasher.finalize())
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
                .digest()
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
}

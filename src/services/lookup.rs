//! `/user/lookup`: who the identification is, whether consent is still required, and the
//! process as seen (with the OTP fallback address where allowed), in one transaction.

use chrono::{DateTime, Utc};

use super::Error;
use crate::configuration::{AddressFallback, Settings, UnknownUser};
use crate::domain::identification::LookupQuery;
use crate::observe::RequestContext;
use crate::storage::{Database, consents, contacts, customers, processes, prospects};

/// Who a lookup is about.
#[derive(Debug, Clone)]
pub enum Who {
    /// The registry entry the identification matches (or, in prospect mode, the prospect
    /// id of an identification the registry does not know).
    Registry(LookupQuery),
    /// The user already known for the process (a null identification: target activation).
    Process,
}

/// A lookup as the Onboarding Server sends it, parsed.
#[derive(Debug, Clone)]
pub struct Lookup<'a> {
    pub process_id: &'a str,
    pub process_type: Option<&'a str>,
    pub who: Who,
    /// The identification's e-mail address, where the settings allow the OTP to fall back
    /// to one.
    pub candidate_email: Option<&'a str>,
}

/// A user identified, whether the OTP may fall back to the identification's address, and
/// whether that address was recorded for the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    pub user_id: String,
    pub consent_required: bool,
    pub fallback_allowed: bool,
    pub remembered: bool,
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    User(Identified),
    /// Nobody (nothing is written).
    Nobody,
    /// Several active registry entries match: nobody is picked (nothing is written). In
    /// prospect mode the identification gets its prospect id instead.
    Several(usize),
}

/// Finds the user (creating the prospect id of an unknown identification in prospect mode:
/// once per identification, even across instances), whether consent is required, and
/// records the process as seen.
///
/// # Errors
/// Database errors (nothing is written then).
pub async fn identify(
    db: &Database,
    settings: &Settings,
    lookup: Lookup<'_>,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<Found, Error> {
    let txn = db.begin().await?;
    let fallback = settings.otp.address_fallback;
    let (user_id, fallback_allowed) = match &lookup.who {
        Who::Registry(query) => match customers::find_by_query(&txn, query).await? {
            customers::Match::One(customer) => (
                customer.user_id,
                fallback == AddressFallback::MissingAddress && customer.email.is_none(),
            ),
            // Nobody, or nobody certain: in prospect mode the identification gets its
            // prospect id.
            found if settings.lookup.unknown_user == UnknownUser::Prospect => {
                if let customers::Match::Several(matches) = found {
                    tracing::warn!(matches, "identification matches several customers");
                }
                let candidate = format!(
                    "{}{}",
                    settings.lookup.prospect_prefix,
                    uuid::Uuid::new_v4()
                );
                let current = query.keyed_digest(settings.privacy.key_bytes());
                let legacy = query.legacy_digest();
                let keys = prospects::Keys {
                    current: &current,
                    legacy: &legacy,
                };
                let user_id =
                    prospects::get_or_create(&txn, keys, &candidate, lookup.process_id, ctx, now)
                        .await?;
                (user_id, fallback != AddressFallback::Never)
            }
            customers::Match::Several(n) => return Ok(Found::Several(n)),
            customers::Match::None => return Ok(Found::Nobody),
        },
        Who::Process => match processes::find(&txn, lookup.process_id)
            .await?
            .and_then(|p| p.user_id)
        {
            Some(user_id) => (user_id, false),
            None => return Ok(Found::Nobody),
        },
    };
    processes::touch(
        &txn,
        processes::ProcessSeen {
            process_id: lookup.process_id,
            process_type: lookup.process_type,
            user_id: Some(&user_id),
            identity_verification_id: None,
            callback: "user_lookup",
        },
        now,
    )
    .await?;
    let consent_required =
        !consents::all_approved(&txn, &user_id, &settings.consent.required_types).await?;
    let remember = lookup.candidate_email.filter(|_| fallback_allowed);
    if let Some(email) = remember {
        contacts::remember(&txn, lookup.process_id, &user_id, email, ctx, now).await?;
    }
    txn.commit().await?;
    Ok(Found::User(Identified {
        user_id,
        consent_required,
        fallback_allowed,
        remembered: remember.is_some(),
    }))
}

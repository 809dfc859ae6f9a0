//! Login throttling: how many failed logins a source address and a user name may have
//! before further attempts are refused (429 with `Retry-After`) without checking the
//! password. One [`LoginThrottle`] per realm (callbacks, back office; a future console
//! login reuses the back office's through [`LoginThrottle::login`]).
//!
//! - **Per address.** `max_failures_per_address` failures from one source address (an
//!   IPv6 address's /64) within `window_secs` refuse that address for `block_secs`, whatever
//!   user it names. This stops one machine from guessing.
//! - **Per user name.** `max_failures_per_user` failures for one name, from any address,
//!   refuse that name for `block_secs` — except from addresses the name logged in from
//!   successfully within `known_address_secs`. This slows guessing spread over many
//!   addresses, while the Onboarding Server (which calls from its usual addresses) keeps
//!   working during such an attack: an attacker who knows a user name cannot lock its
//!   owner out, only delay a first login from a new address, and only while the attack
//!   lasts.
//!
//! Memory is bounded: each table holds at most `max_tracked` entries; expired entries go
//! first, then the least recently seen. User names are kept only as SHA-256 digests (a
//! password typed into the user-name field is not kept). Nothing here logs a password.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::clock::SharedClock;
use crate::configuration::ThrottleSettings;
use crate::metrics::Metrics;

/// Why an attempt was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Address,
    User,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::User => "user",
        }
    }
}

/// An attempt refused before its password was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_secs: u64,
    pub reason: Reason,
}

/// One login attempt: where it comes from and which name it claims.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub source: IpAddr,
    pub username: &'a str,
}

/// Failed logins of one key in the current window.
#[derive(Debug, Clone, Copy)]
struct Counter {
    window_start: DateTime<Utc>,
    failures: u32,
    blocked_until: Option<DateTime<Utc>>,
    last_seen: DateTime<Utc>,
}

/// A bounded table of counters.
#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Counter>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone> Table<K> {
    fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            capacity,
        }
    }

    fn blocked(&self, key: &K, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.entries
            .get(key)
            .and_then(|c| c.blocked_until)
            .filter(|until| *until > now)
    }

    /// Counts a failure; the time the key is blocked until when this one blocks it.
    fn fail(
        &mut self,
        key: K,
        now: DateTime<Utc>,
        limit: u32,
        rules: &Rules,
    ) -> Option<DateTime<Utc>> {
        if !self.entries.contains_key(&key) {
            make_room(&mut self.entries, self.capacity, now, |c| {
                c.window_start + rules.window <= now && c.blocked_until.is_none_or(|u| u <= now)
            });
        }
        let counter = self.entries.entry(key).or_insert(Counter {
            window_start: now,
            failures: 0,
            blocked_until: None,
            last_seen: now,
        });
        if counter.window_start + rules.window <= now {
            counter.window_start = now;
            counter.failures = 0;
        }
        counter.failures = counter.failures.saturating_add(1);
        counter.last_seen = now;
        let already = counter.blocked_until.is_some_and(|u| u > now);
        if counter.failures >= limit && !already {
            let until = now + rules.block;
            counter.blocked_until = Some(until);
            return Some(until);
        }
        None
    }
}

/// Frees one slot when `entries` is full: the expired entries first, then the least recently
/// seen tenth (so that a flood of new keys costs one scan per tenth, not per key).
fn make_room<K: Eq + Hash + Clone, V>(
    entries: &mut HashMap<K, V>,
    capacity: usize,
    now: DateTime<Utc>,
    expired: impl Fn(&V) -> bool,
) where
    V: Seen,
{
    if entries.len() < capacity {
        return;
    }
    entries.retain(|_, v| !expired(v));
    if entries.len() < capacity {
        return;
    }
    let mut seen: Vec<(DateTime<Utc>, K)> =
        entries.iter().map(|(k, v)| (v.seen(), k.clone())).collect();
    seen.sort_by_key(|(at, _)| *at);
    let evict = (capacity / 10).max(1);
    for (_, key) in seen.into_iter().take(evict) {
        entries.remove(&key);
    }
    tracing::warn!(
        capacity,
        evicted = evict,
        at = %now,
        "login throttle table full: forgot the least recently seen entries"
    );
}

trait Seen {
    fn seen(&self) -> DateTime<Utc>;
}

impl Seen for Counter {
    fn seen(&self) -> DateTime<Utc> {
        self.last_seen
    }
}

impl Seen for DateTime<Utc> {
    fn seen(&self) -> DateTime<Utc> {
        *self
    }
}

#[derive(Debug, Clone)]
struct Rules {
    window: Duration,
    block: Duration,
    known_for: Duration,
    per_address: u32,
    per_user: u32,
    capacity: usize,
}

type UserKey = [u8; 32];

#[derive(Debug)]
struct State {
    addresses: Table<IpAddr>,
    users: Table<UserKey>,
    /// Last successful login of a user name from an address.
    known: HashMap<(UserKey, IpAddr), DateTime<Utc>>,
}

/// The throttle of one realm; cheap to clone (shared state).
#[derive(Clone)]
pub struct LoginThrottle {
    realm: &'static str,
    rules: Rules,
    trusted_proxies: Arc<Vec<IpAddr>>,
    state: Arc<Mutex<State>>,
    clock: SharedClock,
    metrics: Option<Metrics>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("realm", &self.realm)
            .field("rules", &self.rules)
            .finish()
    }
}

fn secs(value: u64) -> Duration {
    Duration::seconds(
        i64::try_from(value)
            .unwrap_or(i64::MAX / 1000)
            .min(10 * 365 * 86400),
    )
}

/// The address counted for `ip`: IPv4 (also when mapped into IPv6) as is, IPv6 by its /64
/// (one subscriber usually holds a whole /64).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

fn user_key(username: &str) -> UserKey {
    Sha256::digest(username.as_bytes()).into()
}

impl LoginThrottle {
    pub fn new(
        realm: &'static str,
        settings: &ThrottleSettings,
        clock: SharedClock,
        metrics: Option<Metrics>,
    ) -> Self {
        let rules = Rules {
            window: secs(settings.window_secs),
            block: secs(settings.block_secs),
            known_for: secs(settings.known_address_secs),
            per_address: settings.max_failures_per_address,
            per_user: settings.max_failures_per_user,
            capacity: settings.max_tracked,
        };
        Self {
            realm,
            state: Arc::new(Mutex::new(State {
                addresses: Table::new(rules.capacity),
                users: Table::new(rules.capacity),
                known: HashMap::new(),
            })),
            rules,
            trusted_proxies: Arc::new(settings.trusted_proxies.clone()),
            clock,
            metrics,
        }
    }

    /// The source address of a request: the connection's peer, or, when the peer is a
    /// trusted proxy, the right-most `X-Forwarded-For` entry that is not a trusted proxy.
    pub fn source(&self, req: &actix_web::HttpRequest) -> IpAddr {
        let peer = req
            .peer_addr()
            .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        req.headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .filter_map(|s| s.parse::<IpAddr>().ok())
            .find(|ip| !self.trusted_proxies.contains(ip))
            .unwrap_or(peer)
    }

    /// Runs one login: refuses it when throttled (without calling `verify`), otherwise
    /// verifies and counts the outcome. `verify` answers what the credentials grant, `None`
    /// when they are wrong.
    ///
    /// # Errors
    /// [`Throttled`] when the source address or the user name is throttled.
    pub fn login<T>(
        &self,
        attempt: Attempt<'_>,
        verify: impl FnOnce() -> Option<T>,
    ) -> Result<Option<T>, Throttled> {
        let now = self.clock.now();
        let source = address_key(attempt.source);
        let user = user_key(attempt.username);
        if let Err(throttled) = self.check(source, &user, now) {
            if let Some(m) = &self.metrics {
                m.login_throttled(self.realm, throttled.reason.as_str());
            }
            return Err(throttled);
        }
        let granted = verify();
        match &granted {
            Some(_) => self.succeeded(source, user, now),
            None => self.failed(source, user, now),
        }
        Ok(granted)
    }

    fn check(&self, source: IpAddr, user: &UserKey, now: DateTime<Utc>) -> Result<(), Throttled> {
        let Ok(state) = self.state.lock() else {
            return Ok(());
        };
        let retry = |until: DateTime<Utc>| {
            let ms = (until - now).num_milliseconds().max(0);
            u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1)
        };
        if let Some(until) = state.addresses.blocked(&source, now) {
            return Err(Throttled {
                retry_after_secs: retry(until),
                reason: Reason::Address,
            });
        }
        if let Some(until) = state.users.blocked(user, now) {
            let known = state
                .known
                .get(&(*user, source))
                .is_some_and(|at| *at + self.rules.known_for > now);
            if !known {
                return Err(Throttled {
                    retry_after_secs: retry(until),
                    reason: Reason::User,
                });
            }
        }
        Ok(())
    }

    fn succeeded(&self, source: IpAddr, user: UserKey, now: DateTime<Utc>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let key = (user, source);
        if !state.known.contains_key(&key) {
            let known_for = self.rules.known_for;
            make_room(&mut state.known, self.rules.capacity, now, |at| {
                *at + known_for <= now
            });
        }
        state.known.insert(key, now);
    }

    fn failed(&self, source: IpAddr, user: UserKey, now: DateTime<Utc>) {
        if let Some(m) = &self.metrics {
            m.login_failed(self.realm);
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let rules = self.rules.clone();
        if let Some(until) = state.addresses.fail(source, now, rules.per_address, &rules) {
            tracing::warn!(
                realm = self.realm,
                reason = Reason::Address.as_str(),
                source = %source,
                until = %until,
                "login throttled: too many failed logins from one address"
            );
        }
        if let Some(until) = state.users.fail(user, now, rules.per_user, &rules) {
            tracing::warn!(
                realm = self.realm,
                reason = Reason::User.as_str(),
                user_sha256 = %hex::encode(&user[..6]),
                source = %source,
                until = %until,
                "login throttled: too many failed logins for one user name (from addresses it has not logged in from)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::configuration::Settings;

    fn throttle(
        configure: impl FnOnce(&mut ThrottleSettings),
    ) -> (LoginThrottle, Arc<ManualClock>) {
        let mut settings = Settings::default().throttle;
        settings.max_failures_per_address = 3;
        settings.max_failures_per_user = 5;
        settings.window_secs = 60;
        settings.block_secs = 120;
        configure(&mut settings);
        let clock = Arc::new(ManualClock::new(Utc::now()));
        (
            LoginThrottle::new("test", &settings, clock.clone(), None),
            clock,
        )
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn attempt<'a>(source: &str, username: &'a str) -> Attempt<'a> {
        Attempt {
            source: ip(source),
            username,
        }
    }

    const WRONG: fn() -> Option<()> = || None;
    const RIGHT: fn() -> Option<()> = || Some(());

    #[test]
    fn an_address_is_refused_after_its_failures_until_the_block_ends() {
        let (t, clock) = throttle(|_| {});
        for _ in 0..3 {
            assert_eq!(t.login(attempt("10.0.0.1", "os"), WRONG), Ok(None));
        }
        let refused = t
            .login(attempt("10.0.0.1", "os"), RIGHT)
            .expect_err("throttled, even with the right password");
        assert_eq!(refused.reason, Reason::Address);
        assert_eq!(refused.retry_after_secs, 120);
        assert_eq!(
            t.login(attempt("10.0.0.2", "os"), RIGHT),
            Ok(Some(())),
            "another address is not affected"
        );
        clock.advance(Duration::seconds(119));
        assert_eq!(
            t.login(attempt("10.0.0.1", "os"), RIGHT)
                .expect_err("still blocked")
                .retry_after_secs,
            1
        );
        clock.advance(Duration::seconds(1));
        assert_eq!(t.login(attempt("10.0.0.1", "os"), RIGHT), Ok(Some(())));
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let (t, clock) = throttle(|_| {});
        for _ in 0..2 {
            let _ = t.login(attempt("10.0.0.1", "os"), WRONG);
        }
        clock.advance(Duration::seconds(60));
        for _ in 0..2 {
            assert_eq!(t.login(attempt("10.0.0.1", "os"), WRONG), Ok(None));
        }
        assert_eq!(t.login(attempt("10.0.0.1", "os"), RIGHT), Ok(Some(())));
    }

    #[test]
    fn a_user_name_guessed_from_many_addresses_still_logs_in_from_its_known_address() {
        let (t, _) = throttle(|_| {});
        assert_eq!(t.login(attempt("10.0.0.1", "os"), RIGHT), Ok(Some(())));
        for i in 0..5 {
            let _ = t.login(attempt(&format!("192.0.2.{i}"), "os"), WRONG);
        }
        assert_eq!(
            t.login(attempt("192.0.2.99", "os"), RIGHT)
                .expect_err("a new address waits")
                .reason,
            Reason::User
        );
        assert_eq!(
            t.login(attempt("10.0.0.1", "os"), RIGHT),
            Ok(Some(())),
            "the address the user logged in from is not locked out"
        );
        assert_eq!(
            t.login(attempt("192.0.2.99", "other"), RIGHT),
            Ok(Some(())),
            "other user names are not affected"
        );
    }

    #[test]
    fn ipv6_addresses_are_counted_by_their_64_prefix() {
        let (t, _) = throttle(|_| {});
        for i in 1..=3 {
            let _ = t.login(attempt(&format!("2001:db8:1:2::{i}"), "os"), WRONG);
        }
        assert!(
            t.login(attempt("2001:db8:1:2:ffff::1", "x"), RIGHT)
                .is_err()
        );
        assert!(t.login(attempt("2001:db8:1:3::1", "x"), RIGHT).is_ok());
        assert_eq!(address_key(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
    }

    #[test]
    fn the_tables_stay_bounded_under_a_flood_of_addresses_and_names() {
        let (t, _) = throttle(|s| s.max_tracked = 100);
        for i in 0..2000u32 {
            let source = IpAddr::from(i.to_be_bytes());
            let _ = t.login(
                Attempt {
                    source,
                    username: &format!("user-{i}"),
                },
                WRONG,
            );
        }
        let state = t.state.lock().expect("lock");
        assert!(state.addresses.entries.len() <= 100);
        assert!(state.users.entries.len() <= 100);
    }
}

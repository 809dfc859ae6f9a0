//! The process table: what each callback learnt about a `processId`.

use chrono::{DateTime, Utc};
use entity::process;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::{Prepared, PreparedInsert, ReadModels, insert_row};

/// What a callback knows about its process.
#[derive(Debug, Clone, Copy)]
pub struct ProcessSeen<'a> {
    pub process_id: &'a str,
    pub process_type: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub identity_verification_id: Option<&'a str>,
    pub callback: &'a str,
}

/// [`touch`]'s upsert. Its variant: which of the values a callback may not carry it does
/// carry (bits of process type, user id, identity verification id); those are updated, the
/// others kept.
static TOUCH: PreparedInsert<7, 8> = PreparedInsert::new(|_, carried, values| {
    use process::Column as C;
    let optional = [C::ProcessType, C::UserId, C::IdentityVerificationId];
    let update = [C::LastSeenAt, C::LastCallback].into_iter().chain(
        optional
            .into_iter()
            .enumerate()
            .filter(|(bit, _)| carried & (1 << bit) != 0)
            .map(|(_, column)| column),
    );
    let mut insert = insert_row(
        process::Entity,
        [
            C::ProcessId,
            C::ProcessType,
            C::UserId,
            C::IdentityVerificationId,
            C::LastCallback,
            C::FirstSeenAt,
            C::LastSeenAt,
        ],
        values.map(Expr::val),
    )?;
    insert.on_conflict(
        OnConflict::column(C::ProcessId)
            .update_columns(update)
            .to_owned(),
    );
    Ok(insert)
});

/// Records that a callback for the process arrived: creates the row on first sight,
/// otherwise updates `last_seen_at` and fills in values that are now known (a value the
/// callback does not carry is left as it is). One statement, `INSERT … ON CONFLICT DO
/// UPDATE` (`ON DUPLICATE KEY UPDATE` on MySQL), so concurrent first callbacks cannot race.
///
/// # Errors
/// Database errors.
pub async fn touch(
    db: &impl ConnectionTrait,
    seen: ProcessSeen<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let carried = [
        seen.process_type,
        // The user id can change (temporary activation swaps it at target activation).
        seen.user_id,
        seen.identity_verification_id,
    ]
    .iter()
    .enumerate()
    .filter(|(_, value)| value.is_some())
    .fold(0, |bits, (bit, _)| bits | (1 << bit));
    TOUCH
        .execute(
            db,
            carried,
            [
                seen.process_id.into(),
                seen.process_type.into(),
                seen.user_id.into(),
                seen.identity_verification_id.into(),
                seen.callback.into(),
                now.into(),
                now.into(),
            ],
        )
        .await
        .map(|_| ())
}

/// # Errors
/// Database errors.
pub async fn find(db: &impl ReadModels, process_id: &str) -> Result<Option<process::Model>, DbErr> {
    static BY_ID: Prepared<process::Entity, 1> =
        Prepared::new(|[id]| process::Entity::find().filter(process::Column::ProcessId.eq(id)));
    Ok(db.prepared(&BY_ID, [process_id.into()]).await?.pop())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::persistence::connect_writer;
    use crate::persistence::sqlite_direct::tests::database;
    use chrono::TimeZone;

    /// In a unit of the SQLite writer, a read runs on the writer's connection in the
    /// batch's transaction: it finds what the unit wrote before it, before the commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_unit_reads_its_own_writes_on_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = database(dir.path()).await;
        let writer = crate::persistence::writer::Writer::start(&settings, &pool)
            .await
            .unwrap();
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 5, 0, 0).unwrap();
        let found = writer
            .record_with("p-unit".to_owned(), move |id, db| {
                Box::pin(async move {
                    let before = find(&db, id).await?;
                    let seen = ProcessSeen {
                        process_id: id,
                        process_type: Some("onboarding"),
                        user_id: Some("C-9"),
                        identity_verification_id: None,
                        callback: "user_lookup",
                    };
                    touch(&db, seen, at).await?;
                    Ok::<_, DbErr>((before, find(&db, id).await?))
                })
            })
            .await
            .unwrap();
        assert!(found.0.is_none());
        assert_eq!(found.1.and_then(|p| p.user_id).as_deref(), Some("C-9"));
        assert!(find(&pool, "p-unit").await.unwrap().is_some());
    }

    /// A callback's values are stored on first sight; a later callback updates what it
    /// carries and keeps the rest, on the writer's connection and on the pool alike.
    #[tokio::test]
    async fn a_callback_updates_what_it_carries_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = database(dir.path()).await;
        let (direct, _, _) = connect_writer(&settings, false).unwrap();
        let at = |minute| Utc.with_ymd_and_hms(2026, 12, 1, 5, minute, 0).unwrap();
        let seen = |callback, process_type, user_id, identity_verification_id| ProcessSeen {
            process_id: "p-1",
            process_type,
            user_id,
            identity_verification_id,
            callback,
        };

        touch(
            &direct,
            seen("user_lookup", Some("onboarding"), Some("C-1"), None),
            at(1),
        )
        .await
        .unwrap();
        touch(
            &pool,
            seen("client_evaluate", None, None, Some("iv-1")),
            at(2),
        )
        .await
        .unwrap();
        let row = find(&pool, "p-1").await.unwrap().unwrap();
        assert_eq!(row.process_type.as_deref(), Some("onboarding"));
        assert_eq!(row.user_id.as_deref(), Some("C-1"));
        assert_eq!(row.identity_verification_id.as_deref(), Some("iv-1"));
        assert_eq!(row.last_callback, "client_evaluate");
        assert_eq!((row.first_seen_at, row.last_seen_at), (at(1), at(2)));

        // The user id can change; the type and verification stay.
        touch(
            &direct,
            seen("client_approve", None, Some("C-2"), None),
            at(3),
        )
        .await
        .unwrap();
        let row = find(&pool, "p-1").await.unwrap().unwrap();
        assert_eq!(row.user_id.as_deref(), Some("C-2"));
        // Each variant's SQL was built once and kept (the values bind in their order).
        for carried in [0b011, 0b100, 0b010] {
            assert!(TOUCH.sql[0][carried].get().is_some_and(Option::is_some));
        }
        assert_eq!(row.process_type.as_deref(), Some("onboarding"));
        assert_eq!(row.identity_verification_id.as_deref(), Some("iv-1"));
        assert_eq!((row.first_seen_at, row.last_seen_at), (at(1), at(3)));
    }
}

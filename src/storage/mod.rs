//! Storage: sea-orm queries on SQLite, PostgreSQL and MariaDB through the same code.
//!
//! Owns the connections ([`Database`]), migrations, the classification of database errors
//! (by sea-orm's `DbErr`/`SqlErr` variants and the drivers' error codes, never by message
//! text) and one module of queries per table family. Query functions take
//! `&impl ConnectionTrait`, so a service runs them inside its one transaction. Uniqueness and
//! idempotency are enforced by the schema (unique keys, upserts), never by process memory,
//! so several instances can share one database.

pub mod audit;
pub mod consents;
pub mod contacts;
pub mod customers;
pub mod decisions;
pub mod events;
pub mod evidence;
pub mod otp;
pub mod outbox;
pub mod processes;
pub mod prospects;
pub mod retention;
pub mod review;

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{IntoIden, OnConflict};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database as Connector, DatabaseBackend,
    DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, IsolationLevel, PrimaryKeyTrait,
    RuntimeErr, SqlErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use crate::configuration::{Settings, SqliteSync};

/// The service's database: a pool of connections, and each request's transaction.
///
/// Every request that writes runs in one transaction from [`Database::begin`], committed
/// before the answer. On PostgreSQL and MySQL that is a transaction on a pooled connection.
/// On SQLite, writers are serialised by the application: every write transaction runs on
/// the one connection kept for writes (requests queue for it in arrival order) and begins
/// with `BEGIN IMMEDIATE` (SQLite's write lock at once, so it never fails upgrading a read
/// lock; another process holding the lock is waited for up to the busy timeout). Reads
/// outside a transaction use the pool meanwhile (WAL: reads never wait for a writer).
///
/// One write connection rather than a permit over the pool: the writer's page cache and
/// its thread's allocations stay in one place (`cargo bench --bench evaluate_load`, three
/// 2 MiB images per request, one connection: peak memory growth 4.65-4.72x the body with
/// two write connections, 4.35x with writes taking turns on the pool of 16, 3.32-3.34x with
/// one), at the cost of sqlx's release check of the connection inside the turn (`http_load`,
/// SQLite, 64 connections: 2,370 `/consent/text` per second, 2,869 with the turns on the
/// pool).
#[derive(Clone, Debug)]
pub struct Database {
    pool: DatabaseConnection,
    /// SQLite: the one connection of write transactions; elsewhere the pool again.
    writes: DatabaseConnection,
}

impl Database {
    /// Opens the pool, creating the SQLite file and its folder when needed.
    ///
    /// # Errors
    /// When the database cannot be reached.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let pool = connect(settings).await?;
        let writes = if pool.get_database_backend() == DatabaseBackend::Sqlite {
            connect_with(settings, 1).await?
        } else {
            pool.clone()
        };
        Ok(Self { pool, writes })
    }

    /// For reads that need no transaction (and for the readiness probe).
    pub fn reads(&self) -> &DatabaseConnection {
        &self.pool
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.pool.get_database_backend()
    }

    /// Begins a request's transaction. Dropped without `commit`, it rolls back.
    ///
    /// # Errors
    /// When no connection is to be had (503) or the write lock is not granted in time.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        match self.backend() {
            DatabaseBackend::Sqlite => {
                self.writes
                    .begin_with_options(TransactionOptions {
                        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                        ..TransactionOptions::default()
                    })
                    .await
            }
            // InnoDB's default, REPEATABLE READ, would keep a transaction from seeing the
            // row a concurrent identical call committed before this one's insert gave way
            // to it; READ COMMITTED behaves as PostgreSQL's default does.
            DatabaseBackend::MySql => {
                self.writes
                    .begin_with_config(Some(IsolationLevel::ReadCommitted), None)
                    .await
            }
            _ => self.writes.begin().await,
        }
    }

    /// Readiness: see [`ping`].
    ///
    /// # Errors
    /// When the database does not answer or cannot be written.
    pub async fn ping(&self, busy_timeout_ms: u64) -> Result<(), DbErr> {
        ping(&self.pool, busy_timeout_ms).await
    }
}

/// The id a table's primary key takes.
pub type IdOf<A> =
    <<<A as ActiveModelTrait>::Entity as EntityTrait>::PrimaryKey as PrimaryKeyTrait>::ValueType;

/// Inserts `model` unless a row with the same unique `key` exists; then `Ok(None)`, and the
/// caller's transaction goes on. One statement on every backend: `ON CONFLICT (key) DO
/// NOTHING` on PostgreSQL and SQLite (a refused insert would abort the whole PostgreSQL
/// transaction); on MySQL, where that clause does not exist, a duplicate-key error undoes
/// the statement only.
///
/// # Errors
/// Database errors.
pub async fn insert_unless_exists<A, C, K>(
    db: &impl ConnectionTrait,
    model: A,
    key: K,
) -> Result<Option<IdOf<A>>, DbErr>
where
    A: ActiveModelTrait,
    C: IntoIden,
    K: IntoIterator<Item = C>,
{
    let insert = <A::Entity as EntityTrait>::insert(model);
    let is_mysql = db.get_database_backend() == DatabaseBackend::MySql;
    let inserted = if is_mysql {
        insert.exec(db).await
    } else {
        insert
            .on_conflict(OnConflict::columns(key).do_nothing().to_owned())
            .exec(db)
            .await
    };
    match inserted {
        Ok(done) => Ok(Some(done.last_insert_id)),
        Err(DbErr::RecordNotInserted) => Ok(None),
        // Only MySQL's duplicate of `key` arrives as an error (elsewhere another unique
        // constraint's violation is a real error, and it aborted a PostgreSQL transaction).
        Err(e) if is_mysql && is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens the connection pool (creating the SQLite file and its folder when needed). For
/// tools and tests; the service uses [`Database::open`].
///
/// # Errors
/// When the database cannot be reached.
pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    connect_with(settings, settings.database.max_connections).await
}

async fn connect_with(
    settings: &Settings,
    max_connections: u32,
) -> anyhow::Result<DatabaseConnection> {
    let url = settings.database_url();
    if let Some(path) = sqlite_path(&url) {
        create_owner_only(std::path::Path::new(&path))?;
    }
    let busy_timeout = Duration::from_millis(settings.database.sqlite_busy_timeout_ms);
    let synchronous = match settings.database.sqlite_synchronous {
        SqliteSync::Full => SqliteSynchronous::Full,
        SqliteSync::Normal => SqliteSynchronous::Normal,
    };
    let embedded = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(settings.database.connect_timeout_secs))
        .acquire_timeout(Duration::from_secs(settings.database.acquire_timeout_secs))
        .sqlx_logging(false)
        // A ping on every checkout finds server connections that died while pooled; an
        // embedded SQLite connection cannot die that way.
        .test_before_acquire(!embedded)
        // WAL lets readers proceed during a write; the busy timeout makes a writer of
        // another process (or the readiness probe) wait for the lock instead of failing.
        .map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
        });
    Connector::connect(options)
        .await
        .context("Failed to connect to the database")
}

/// Creates the SQLite file (and its folder) readable by the owner only (0600, folder 0700,
/// on Unix), unless it exists. SQLite gives its `-wal` and `-shm` files the database
/// file's permissions.
fn create_owner_only(path: &std::path::Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        let mut folder = std::fs::DirBuilder::new();
        folder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
        folder
            .create(parent)
            .with_context(|| format!("Failed to create folder {}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    match file.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => {
            Err(e).with_context(|| format!("Failed to create database file {}", path.display()))
        }
    }
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

/// Applies pending migrations, holding a database-wide lock on PostgreSQL and MySQL so
/// that instances starting together do not race (SQLite serialises writers itself).
///
/// # Errors
/// When the lock cannot be taken or a migration fails.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    // Session locks need one connection for lock, migrations and unlock.
    let db = connect_with(settings, 1).await?;
    let backend = db.get_database_backend();
    let (lock, unlock) = match backend {
        DatabaseBackend::Postgres => (
            "SELECT pg_advisory_lock(727274001)",
            "SELECT pg_advisory_unlock(727274001)",
        ),
        DatabaseBackend::MySql => (
            "SELECT GET_LOCK('onboarding_adapter_migrations', 60)",
            "SELECT RELEASE_LOCK('onboarding_adapter_migrations')",
        ),
        _ => ("", ""),
    };
    if !lock.is_empty() {
        db.execute_raw(Statement::from_string(backend, lock))
            .await
            .context("Failed to take the migration lock")?;
    }
    let result = Migrator::up(&db, None)
        .await
        .context("Failed to apply migrations");
    if !unlock.is_empty() {
        let _ = db
            .execute_raw(Statement::from_string(backend, unlock))
            .await;
    }
    let _ = db.close().await;
    result
}

/// True when the error means the database is unreachable or unusable right now (503),
/// rather than a bug or a constraint (500 / handled).
pub fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_unavailable(e)
        }
        _ => false,
    }
}

fn sqlx_unavailable(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as E;
    match e {
        E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Tls(_) => true,
        E::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            // SQLite: BUSY, READONLY, IOERR, CORRUPT, FULL, CANTOPEN (primary codes, also
            // as extended codes). PostgreSQL: class 08 (connection), 53 (resources),
            // 57P (shutdown). MySQL: server gone / too many connections.
            code.parse::<i64>().is_ok_and(sqlite_unavailable)
                && db
                    .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                    .is_some()
                || code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || matches!(code.as_str(), "1040" | "2006" | "2013" | "HY000")
                    && db
                        .try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>()
                        .is_some()
                    && code != "HY000"
        }
        _ => false,
    }
}

/// SQLite's result codes of an unavailable database, primary or extended: BUSY, READONLY,
/// IOERR, CORRUPT, FULL, CANTOPEN.
fn sqlite_unavailable(code: i64) -> bool {
    matches!(code & 0xff, 5 | 8 | 10 | 11 | 13 | 14)
}

/// True when `err` is a unique-constraint violation (a duplicate the schema refused).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// How long the SQLite readiness probe waits for the write lock.
pub const SQLITE_PROBE_BUSY_TIMEOUT_MS: u64 = 1000;

/// Readiness probe. PostgreSQL and MySQL: a round trip on a pooled connection. SQLite:
/// the driver's ping never touches the file, so the probe takes and releases the write
/// lock (`BEGIN IMMEDIATE; ROLLBACK`, nothing written), waiting at most
/// [`SQLITE_PROBE_BUSY_TIMEOUT_MS`] (or `busy_timeout_ms` when shorter): a file that is
/// locked by another process, read-only or gone fails it, as it fails the callbacks'
/// writes.
///
/// # Errors
/// When the database does not answer or cannot be written.
pub async fn ping(db: &DatabaseConnection, busy_timeout_ms: u64) -> Result<(), DbErr> {
    if db.get_database_backend() != DatabaseBackend::Sqlite {
        return db.ping().await;
    }
    use sea_orm::sqlx::{AssertSqlSafe, Executor};
    let sqlx_err = |e: sea_orm::sqlx::Error| DbErr::Conn(RuntimeErr::SqlxError(e.into()));
    let mut conn = db
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .map_err(sqlx_err)?;
    let probe_timeout = SQLITE_PROBE_BUSY_TIMEOUT_MS.min(busy_timeout_ms);
    conn.execute(AssertSqlSafe(format!(
        "PRAGMA busy_timeout = {probe_timeout}"
    )))
    .await
    .map_err(sqlx_err)?;
    let (probe, clean) = match conn.execute("BEGIN IMMEDIATE").await {
        Ok(_) => match conn.execute("ROLLBACK").await {
            Ok(_) => (Ok(()), true),
            Err(e) => (Err(e), false),
        },
        Err(e) => (Err(e), true),
    };
    // Restore the pool's busy timeout before the connection goes back; a connection that
    // cannot be restored (or is still in the transaction) is closed instead.
    let restored = conn
        .execute(AssertSqlSafe(format!(
            "PRAGMA busy_timeout = {busy_timeout_ms}"
        )))
        .await;
    if restored.is_err() || !clean {
        let _ = conn.close().await;
    }
    probe.map_err(sqlx_err)
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use secrecy::SecretString;

    use super::*;

    /// A migrated SQLite database in `dir`.
    pub(crate) async fn database(dir: &std::path::Path) -> Database {
        let mut settings = Settings::default();
        let url = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());
        settings.database.url = Some(SecretString::from(url));
        migrate(&settings).await.unwrap();
        Database::open(&settings).await.unwrap()
    }

    /// On SQLite write transactions are serialised: a second one waits for the first to
    /// end (and then begins), instead of failing when it upgrades a read lock.
    #[tokio::test]
    async fn sqlite_write_transactions_take_the_write_lock_at_begin() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path()).await;
        let first = db.begin().await.unwrap();
        let second = tokio::spawn({
            let db = db.clone();
            async move { db.begin().await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!second.is_finished(), "a second writer did not wait");
        first.rollback().await.unwrap();
        second.await.unwrap().unwrap();
    }

    /// The write lock is taken at `BEGIN` (IMMEDIATE), before the transaction's first
    /// statement: another process's write meanwhile finds the database locked.
    #[tokio::test]
    async fn a_sqlite_write_transaction_holds_the_lock_from_its_begin() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path()).await;
        let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
        let mut options = ConnectOptions::new(url);
        options.max_connections(1).sqlx_logging(false);
        let other = Connector::connect(options).await.unwrap();
        other
            .execute_unprepared("PRAGMA busy_timeout = 50")
            .await
            .unwrap();
        let held = db.begin().await.unwrap();
        let refused = other.execute_unprepared("CREATE TABLE probe (a)").await;
        assert!(refused.as_ref().is_err_and(is_unavailable), "{refused:?}");
        held.rollback().await.unwrap();
        other
            .execute_unprepared("CREATE TABLE probe (a)")
            .await
            .unwrap();
    }
}

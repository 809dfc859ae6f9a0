//! Database access with sea-orm. Functions take `&impl ConnectionTrait`, so they compose
//! inside one transaction. Uniqueness and idempotency are enforced by the schema, never
//! by process memory, so several instances can share one database.

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
pub mod review;
pub mod sqlite_direct;
pub mod writer;

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, ExecResult, QueryTrait, RuntimeErr, Select, SqlErr, Statement, TryIntoModel,
    Value,
};

use sea_orm::sea_query::{Expr, InsertStatement, IntoIden, Query};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};

use crate::configuration::{Settings, SqliteSync};

/// Opens the connection pool (creating the SQLite file and its folder when needed).
///
/// # Errors
/// When the database cannot be reached.
pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    connect_with(settings, settings.database.max_connections).await
}

/// The SQLite group-commit writer's own connection (see [`sqlite_direct`]) on the file of
/// `settings`' database URL, and where its failed transaction statements are kept.
///
/// # Errors
/// When the URL names no SQLite file or the file cannot be opened.
pub fn connect_writer(
    settings: &Settings,
    sync_behind: bool,
) -> anyhow::Result<(
    DatabaseConnection,
    sqlite_direct::Failures,
    sqlite_direct::Shared,
)> {
    let mut options = direct_options(settings, false)?;
    if sync_behind {
        // The writer's `db-sync` thread syncs the WAL after each commit instead.
        options.synchronous = "NORMAL";
    }
    sqlite_direct::DirectSqlite::open(&options)
        .context("Failed to open the SQLite database for writing")
}

/// The SQLite writer's checkpoint connection, on the file of `settings`' database URL.
///
/// # Errors
/// When the URL names no SQLite file or the file cannot be opened.
pub fn connect_checkpointer(settings: &Settings) -> anyhow::Result<sqlite_direct::Checkpointer> {
    Ok(sqlite_direct::Checkpointer::open(&sqlite_file(settings)?)?)
}

/// The connections for the callbacks' point reads.
///
/// On SQLite, `count` read-only connections, each used in the calling thread (see
/// [`sqlite_direct::DirectSqlite::open`]): a thread always gets the same one, so the
/// service's workers do not queue on one connection's lock. Elsewhere, `pool`.
#[derive(Clone)]
pub struct Readers(Arc<[Reader]>);

impl Readers {
    /// The connection of the calling thread.
    pub fn local(&self) -> &Reader {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
        }
        let slot = SLOT.with(|slot| *slot);
        &self.0[slot % self.0.len()]
    }
}

/// One connection of [`Readers`]: through sea-orm, and on SQLite also directly, so that
/// [`ReadModels`] reads its models without sea-orm's rows.
#[derive(Clone)]
pub struct Reader {
    db: DatabaseConnection,
    direct: Option<sqlite_direct::Shared>,
}

impl Reader {
    /// The connection, for any sea-orm statement.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// Models found by a select, on any connection.
///
/// On a [`Reader`] of a SQLite database the select runs on its connection directly and
/// each row is read straight into its model (`cargo bench --bench http_load`: sea-orm's
/// rows cost more than SQLite's own work for a point read). Elsewhere it is sea-orm's
/// `all`.
pub trait ReadModels {
    /// Every model `select` finds.
    fn all<E>(
        &self,
        select: Select<E>,
    ) -> impl Future<Output = Result<Vec<E::Model>, DbErr>> + Send
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>;

    /// Every model `query` finds with `values`.
    fn prepared<E, const N: usize>(
        &self,
        query: &'static Prepared<E, N>,
        values: [Value; N],
    ) -> impl Future<Output = Result<Vec<E::Model>, DbErr>> + Send
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>;
}

/// On the SQLite writer's thread, a read through any SQLite connection (a unit's executor:
/// the writer's own connection, in the batch's transaction) runs on the writer's
/// connection directly, like a [`Reader`]'s. Elsewhere it is sea-orm's.
impl<C: ConnectionTrait + Sync> ReadModels for C {
    fn all<E>(&self, select: Select<E>) -> impl Future<Output = Result<Vec<E::Model>, DbErr>> + Send
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        let direct = self.writer_connection();
        async move {
            match direct {
                Some(direct) => direct_all(&direct, &select),
                None => select.all(self).await,
            }
        }
    }

    fn prepared<E, const N: usize>(
        &self,
        query: &'static Prepared<E, N>,
        values: [Value; N],
    ) -> impl Future<Output = Result<Vec<E::Model>, DbErr>> + Send
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        let direct = self.writer_connection();
        async move {
            match direct {
                Some(direct) => direct_prepared(&direct, query, values),
                None => (query.select)(values).all(self).await,
            }
        }
    }
}

/// `select` on a direct SQLite connection, read straight into the models.
fn direct_all<E>(direct: &sqlite_direct::Shared, select: &Select<E>) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    E::ActiveModel: TryIntoModel<E::Model>,
{
    let statement = select.build(DatabaseBackend::Sqlite);
    direct
        .lock()
        .models::<E>(&statement.sql, sqlite_direct::values_of(&statement))
}

/// `query` with `values` on a direct SQLite connection, read straight into the models.
fn direct_prepared<E, const N: usize>(
    direct: &sqlite_direct::Shared,
    query: &Prepared<E, N>,
    values: [Value; N],
) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    E::ActiveModel: TryIntoModel<E::Model>,
{
    let (sql, values) = query.sqlite(values);
    direct.lock().models::<E>(&sql, &values)
}

thread_local! {
    /// The SQLite writer's own connection, on the writer's thread only (see
    /// [`writer`]): the executor its units get wraps this same connection.
    static WRITER_CONNECTION: std::cell::RefCell<Option<sqlite_direct::Shared>> =
        const { std::cell::RefCell::new(None) };
}

/// While a batch's transaction is open on the SQLite writer's thread: its connection.
/// Cleared when dropped (the batch ends).
struct InBatch;

impl InBatch {
    fn begin(direct: &sqlite_direct::Shared) -> Self {
        WRITER_CONNECTION.with(|slot| *slot.borrow_mut() = Some(direct.clone()));
        Self
    }
}

impl Drop for InBatch {
    fn drop(&mut self) {
        WRITER_CONNECTION.with(|slot| *slot.borrow_mut() = None);
    }
}

/// The writer's connection, when `self` is a SQLite connection used on the writer's thread
/// while a batch runs: there a unit's executor is the only connection in use, and it wraps
/// that same connection, in the batch's transaction. (A unit must not use another SQLite
/// connection; its reads would run in the batch's transaction.)
trait OnWriterThread {
    fn writer_connection(&self) -> Option<sqlite_direct::Shared>;
}

impl<C: ConnectionTrait> OnWriterThread for C {
    fn writer_connection(&self) -> Option<sqlite_direct::Shared> {
        if self.get_database_backend() != DatabaseBackend::Sqlite {
            return None;
        }
        WRITER_CONNECTION.with(|slot| slot.borrow().clone())
    }
}

impl ReadModels for Reader {
    async fn all<E>(&self, select: Select<E>) -> Result<Vec<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        match &self.direct {
            Some(direct) => direct_all(direct, &select),
            None => select.all(&self.db).await,
        }
    }

    async fn prepared<E, const N: usize>(
        &self,
        query: &'static Prepared<E, N>,
        values: [Value; N],
    ) -> Result<Vec<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::Model: Send + Sync,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        match &self.direct {
            Some(direct) => direct_prepared(direct, query, values),
            None => (query.select)(values).all(&self.db).await,
        }
    }
}

/// A select run again and again with other values, for [`ReadModels::prepared`]. On a
/// SQLite [`Reader`] its SQL is built once, at the first call, and kept: building a
/// sea-orm select (every column an expression) cost as much as running it.
pub struct Prepared<E: EntityTrait, const N: usize> {
    select: fn([Value; N]) -> Select<E>,
    /// The statement, when the values it binds begin with the call's, in their order (the
    /// rest are the select's constants, e.g. a limit); `None` when they do not, and then
    /// every call builds its statement.
    sqlite: OnceLock<Option<Statement>>,
}

impl<E: EntityTrait, const N: usize> Prepared<E, N> {
    /// `select` gets the values of each call; its SQL must not depend on them.
    pub const fn new(select: fn([Value; N]) -> Select<E>) -> Self {
        Self {
            select,
            sqlite: OnceLock::new(),
        }
    }

    /// The SQLite SQL and the values to bind for `values`.
    fn sqlite(&self, values: [Value; N]) -> (Cow<'_, str>, Vec<Value>) {
        let kept = self.sqlite.get_or_init(|| {
            let probe = probe::<N>();
            let built = (self.select)(probe.clone()).build(DatabaseBackend::Sqlite);
            let bound = sqlite_direct::values_of(&built);
            (bound.len() >= N && bound[..N] == probe[..]).then_some(built)
        });
        match kept {
            Some(kept) => {
                let mut all = Vec::from(values);
                all.extend_from_slice(&sqlite_direct::values_of(kept)[N..]);
                (Cow::Borrowed(kept.sql.as_str()), all)
            }
            None => {
                let built = (self.select)(values).build(DatabaseBackend::Sqlite);
                let all = sqlite_direct::values_of(&built).to_vec();
                (Cow::Owned(built.sql), all)
            }
        }
    }
}

/// Distinct stand-in values: a statement built with them shows the order it binds its
/// values in.
fn probe<const N: usize>() -> [Value; N] {
    std::array::from_fn(|i| Value::String(Some(format!("\u{1}prepared value {i}"))))
}

/// An insert run again and again with other values, in one of `V` variants (e.g. which
/// columns an upsert updates). Its SQL is built once per backend and variant and kept;
/// on the SQLite writer, building the statement cost as much as SQLite's own work for it.
pub struct PreparedInsert<const N: usize, const V: usize = 1> {
    build: fn(DatabaseBackend, usize, [Value; N]) -> Result<InsertStatement, DbErr>,
    /// By backend (SQLite, PostgreSQL, MySQL) and variant: the SQL, when the statement binds
    /// exactly the call's values in their order; `None` when it does not, and then every
    /// call builds its statement.
    sql: [[OnceLock<Option<String>>; V]; 3],
}

impl<const N: usize, const V: usize> PreparedInsert<N, V> {
    /// `build` gets the backend, the variant and the values of each call; its SQL must
    /// depend on the backend and the variant only.
    pub const fn new(
        build: fn(DatabaseBackend, usize, [Value; N]) -> Result<InsertStatement, DbErr>,
    ) -> Self {
        Self {
            build,
            sql: [const { [const { OnceLock::new() }; V] }; 3],
        }
    }

    /// Runs variant `variant` (below `V`) with `values`.
    ///
    /// # Errors
    /// The database's; an unknown variant.
    pub async fn execute(
        &self,
        db: &impl ConnectionTrait,
        variant: usize,
        values: [Value; N],
    ) -> Result<ExecResult, DbErr> {
        db.execute_raw(self.statement(db.get_database_backend(), variant, values)?)
            .await
    }

    /// The statement of variant `variant` (below `V`) with `values`, for `backend`.
    ///
    /// # Errors
    /// An unknown variant, or a statement that cannot be built.
    pub fn statement(
        &self,
        backend: DatabaseBackend,
        variant: usize,
        values: [Value; N],
    ) -> Result<Statement, DbErr> {
        let slot = match backend {
            DatabaseBackend::Sqlite => 0,
            DatabaseBackend::Postgres => 1,
            _ => 2,
        };
        let kept = self.sql[slot]
            .get(variant)
            .ok_or_else(|| DbErr::Custom(format!("no statement variant {variant}")))?
            .get_or_init(|| {
                let probe = probe::<N>();
                let built = backend.build(&(self.build)(backend, variant, probe.clone()).ok()?);
                (sqlite_direct::values_of(&built) == probe).then_some(built.sql)
            });
        Ok(match kept {
            Some(sql) => Statement::from_sql_and_values(backend, sql.as_str(), values),
            None => backend.build(&(self.build)(backend, variant, values)?),
        })
    }
}

/// `INSERT INTO table (columns) VALUES (values)`, for a [`PreparedInsert`].
///
/// # Errors
/// When the values do not match the columns.
pub fn insert_row<C: IntoIden>(
    table: impl IntoIden,
    columns: impl IntoIterator<Item = C>,
    values: impl IntoIterator<Item = Expr>,
) -> Result<InsertStatement, DbErr> {
    let mut insert = Query::insert();
    insert
        .into_table(table)
        .columns(columns)
        .values(values)
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    Ok(insert)
}

/// The callbacks' read connections (see [`Readers`]): `count` of them on SQLite.
///
/// # Errors
/// When the SQLite file cannot be opened.
pub fn connect_readers(
    settings: &Settings,
    pool: &DatabaseConnection,
    count: usize,
) -> anyhow::Result<Readers> {
    if pool.get_database_backend() != DatabaseBackend::Sqlite {
        return Ok(Readers(Arc::new([Reader {
            db: pool.clone(),
            direct: None,
        }])));
    }
    let readers = (0..count.max(1))
        .map(|_| {
            let (db, direct) =
                sqlite_direct::DirectSqlite::open_reader(&direct_options(settings, true)?)
                    .context("Failed to open the SQLite database for reading")?;
            Ok(Reader {
                db,
                direct: Some(direct),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Readers(readers.into()))
}

/// The SQLite file of `settings`' database URL, for the connections opened on it directly.
fn sqlite_file(settings: &Settings) -> anyhow::Result<String> {
    sqlite_path(&settings.database_url()).context(
        "The SQLite connections need a database file (an in-memory database is not shared)",
    )
}

fn direct_options(settings: &Settings, read_only: bool) -> anyhow::Result<sqlite_direct::Options> {
    Ok(sqlite_direct::Options {
        path: sqlite_file(settings)?,
        busy_timeout: Duration::from_millis(settings.database.sqlite_busy_timeout_ms),
        synchronous: match settings.database.sqlite_synchronous {
            SqliteSync::Full => "FULL",
            SqliteSync::Normal => "NORMAL",
        },
        read_only,
    })
}

async fn connect_with(
    settings: &Settings,
    max_connections: u32,
) -> anyhow::Result<DatabaseConnection> {
    let url = settings.database_url();
    if let Some(path) = sqlite_path(&url)
        && let Some(parent) = std::path::Path::new(&path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("Failed to create folder {}", parent.display()))?;
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
        // embedded SQLite connection cannot die that way, and the ping would cost a round
        // trip to its worker thread on every statement.
        .test_before_acquire(!embedded)
        // WAL lets readers proceed during a write; the busy timeout makes concurrent
        // writers wait for the lock instead of failing at once.
        .map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
        });
    Database::connect(options)
        .await
        .context("Failed to connect to the database")
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
        // The writer's own SQLite connection: the same primary codes as below.
        _ => sqlite_direct::error_code(err).is_some_and(|code| sqlite_unavailable(code.into())),
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
        // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE from the writer's connection.
        || matches!(sqlite_direct::error_code(err), Some(1555 | 2067))
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

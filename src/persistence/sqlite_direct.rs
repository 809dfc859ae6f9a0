//! SQLite connections driven in the thread that uses them: the group-commit writer's, and
//! the read-only ones of the callbacks' point reads.
//!
//! sqlx runs every SQLite connection on a worker thread of its own and hands each
//! statement over a channel, so every statement costs two thread wake-ups. Under load, on
//! a small machine, that hand-over dominated the writer's time (about 90 µs a statement,
//! of which SQLite itself used a few). This connection runs the statements sea-orm builds
//! (exactly as for sqlx's SQLite) on a `rusqlite` connection, synchronously, in the thread
//! that awaits them: the writer's, or the HTTP worker's for a read.
//!
//! sea-orm has two interfaces for a connection it does not drive itself. Its `proxy`
//! interface does not compile beside the sqlx drivers in sea-orm 2.0.4 (upstream issues
//! SeaQL/sea-orm#2990 and #2999), so this implements [`MockDatabaseTrait`], the other one,
//! which has the same shape: statements in, rows out, `begin`/`commit`/`rollback` without a
//! result. Rows and results are handed to sea-orm through a one-shot [`MockDatabase`], the
//! only public way to build them. Nothing here is a test double: every statement runs on
//! the database file.
//!
//! Transactions are the writer's only (the readers do not open any), one at a time:
//! - the outermost `begin()` is `BEGIN IMMEDIATE`, nested ones are savepoints;
//! - values are written exactly as sqlx writes them (timestamps in RFC 3339, JSON as text,
//!   booleans as 0/1), so rows read back through the sqlx pool are the same either way;
//! - the interface cannot report a failed `BEGIN`, `COMMIT` or `ROLLBACK`. Such a failure
//!   therefore breaks the connection's transaction: every later statement fails, and
//!   [`Failures::take`] hands the failure to the writer, which then reports its batch as
//!   not committed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, Value as Sql, ValueRef};
use rusqlite::{Connection, OpenFlags};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ColumnType, DatabaseConnection, DatabaseConnectionType,
    DbBackend, DbErr, EntityTrait, ExecResult, IdenStatic, Iterable, MockDatabase,
    MockDatabaseConnection, MockDatabaseTrait, MockExecResult, QueryResult, RuntimeErr, Statement,
    Transaction, TryIntoModel, Value,
};

/// Prefix of the errors this connection reports, followed by SQLite's extended result code.
const ERROR_PREFIX: &str = "SQLite error ";

/// Statements the connection keeps prepared (the writer's statements are few and repeat).
const STATEMENT_CACHE: usize = 128;

/// How the connection is opened: the same pragmas as the sqlx connections.
#[derive(Debug, Clone)]
pub struct Options {
    pub path: String,
    pub busy_timeout: Duration,
    /// `FULL` or `NORMAL`.
    pub synchronous: &'static str,
    /// A read-only connection for the callbacks' point reads (see [`DirectSqlite::open`]).
    pub read_only: bool,
}

/// Copies the WAL back into the database file from its own connection and thread, so that
/// the writer's commits never wait behind a checkpoint (see `persistence::writer`).
pub struct Checkpointer(Connection);

impl Checkpointer {
    /// # Errors
    /// When the file cannot be opened.
    pub fn open(path: &str) -> Result<Self, DbErr> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| conn_error(&e))?;
        Ok(Self(conn))
    }

    /// A PASSIVE checkpoint: it waits for no reader or writer and copies what it can; the
    /// rest is copied next time. Answers the WAL's frames and how many are copied.
    ///
    /// # Errors
    /// SQLite's, e.g. an I/O error.
    pub fn run(&self) -> Result<(i64, i64), CheckpointFailed> {
        self.0
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get(1)?, row.get(2)?))
            })
            .map_err(|e| CheckpointFailed {
                io: e.sqlite_error_code() == Some(rusqlite::ErrorCode::SystemIoFailure),
                error: DbErr::Query(runtime_error(&e)),
            })
    }
}

/// Why a checkpoint failed, and whether it was an I/O error (a failed write or sync).
#[derive(Debug)]
pub struct CheckpointFailed {
    pub error: DbErr,
    pub io: bool,
}

/// Failed transaction statements of a [`DirectSqlite`] connection, for the writer.
#[derive(Debug, Clone, Default)]
pub struct Failures(Arc<Mutex<Option<String>>>);

impl Failures {
    /// The failure of a transaction statement since the last call, if any: the batch that
    /// ran meanwhile must not be reported as committed.
    pub fn take(&self) -> Option<DbErr> {
        self.slot()
            .take()
            .map(|e| DbErr::Conn(RuntimeErr::Internal(e)))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, failure: String) {
        self.slot().get_or_insert(failure);
    }

    fn check(&self) -> Result<(), DbErr> {
        match &*self.slot() {
            Some(e) => Err(DbErr::Conn(RuntimeErr::Internal(format!(
                "the write transaction is broken: {e}"
            )))),
            None => Ok(()),
        }
    }
}

/// A `rusqlite` connection under sea-orm. See the module documentation.
pub struct DirectSqlite {
    conn: Connection,
    /// Open transaction levels: 0 none, 1 the `BEGIN`, more for savepoints.
    depth: u32,
    failures: Failures,
    /// Columns of 32-bit integer fields: SQLite declares every integer column `integer`, so
    /// the entities tell which ones sea-orm reads as `i32`.
    int32_columns: HashSet<String>,
    /// What each query's columns are read as, by statement text.
    columns: HashMap<String, Arc<[(String, Kind)]>>,
}

impl fmt::Debug for DirectSqlite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectSqlite")
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

/// A [`DirectSqlite`] used both through sea-orm and directly (see
/// [`DirectSqlite::open_reader`]).
#[derive(Debug, Clone)]
pub struct Shared(Arc<Mutex<DirectSqlite>>);

impl Shared {
    /// The connection, for a short read in the calling thread.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, DirectSqlite> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MockDatabaseTrait for Shared {
    fn execute(&mut self, counter: usize, statement: Statement) -> Result<ExecResult, DbErr> {
        self.lock().execute(counter, statement)
    }

    fn query(&mut self, counter: usize, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.lock().query(counter, statement)
    }

    fn begin(&mut self) {
        self.lock().begin();
    }

    fn commit(&mut self) {
        self.lock().commit();
    }

    fn rollback(&mut self) {
        self.lock().rollback();
    }

    fn drain_transaction_log(&mut self) -> Vec<Transaction> {
        Vec::new()
    }

    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    fn ping(&self) -> Result<(), DbErr> {
        self.lock().ping()
    }
}

/// A sea-orm connection on `direct`.
fn mock_connection(direct: impl MockDatabaseTrait + 'static) -> DatabaseConnection {
    DatabaseConnectionType::MockDatabaseConnection(Arc::new(MockDatabaseConnection::new(direct)))
        .into()
}

impl DirectSqlite {
    /// The WAL file of this connection's database, as SQLite names it (after following
    /// symbolic links), opened for syncing.
    ///
    /// # Errors
    /// When the connection has no file, or its WAL cannot be opened.
    pub fn wal_file(&self) -> anyhow::Result<(std::path::PathBuf, std::fs::File)> {
        let database = self
            .conn
            .path()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| anyhow::anyhow!("the writer's database has no file"))?;
        let path = std::path::PathBuf::from(format!("{database}-wal"));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| {
                anyhow::anyhow!("cannot open the WAL {} to sync it: {e}", path.display())
            })?;
        Ok((path, file))
    }

    /// Opens the database file: a sea-orm connection on it, and where its failed
    /// transaction statements are kept.
    ///
    /// The writer's connection has the pragmas of the sqlx connections, except that no
    /// commit checkpoints the WAL: the [`Checkpointer`] does, beside it (and the WAL file is
    /// cut back to 64 MiB when it starts again from its beginning).
    ///
    /// A read-only connection serves the callbacks' point reads (a registry entry, the
    /// latest consent or decision of a process) in the actix worker that asks, instead of
    /// a round trip to a sqlx worker thread. There is one per worker (see
    /// [`super::Readers`]), each behind a mutex and read inline, so it is meant for short
    /// indexed reads only; in WAL mode a reader does not wait for the writer. It cannot
    /// write, and sees every commit as soon as it is made.
    ///
    /// # Errors
    /// When the file cannot be opened or a pragma fails.
    pub fn open(options: &Options) -> Result<(DatabaseConnection, Failures, Shared), DbErr> {
        let direct = Self::connect(options)?;
        let failures = direct.failures.clone();
        let shared = Shared(Arc::new(Mutex::new(direct)));
        Ok((mock_connection(shared.clone()), failures, shared))
    }

    fn connect(options: &Options) -> Result<Self, DbErr> {
        let flags = if options.read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let conn = Connection::open_with_flags(&options.path, flags).map_err(|e| conn_error(&e))?;
        conn.busy_timeout(options.busy_timeout)
            .map_err(|e| conn_error(&e))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Query planner stability: without it a statement whose plan looked at a bound
        // value (sea-orm binds `LIMIT ?`) is compiled again every time it is bound anew,
        // which made each cached statement cost a full parse.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(|e| conn_error(&e))?;
        // Statement journals of savepoints and sorts stay in memory: a temporary file
        // would be opened and written for every batch whose savepoint journal spills.
        let pragmas = if options.read_only {
            "PRAGMA query_only = ON; PRAGMA temp_store = MEMORY;".to_owned()
        } else {
            format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; \
                 PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY; \
                 PRAGMA journal_size_limit = 67108864;",
                options.synchronous
            )
        };
        conn.execute_batch(&pragmas).map_err(|e| conn_error(&e))?;
        Ok(Self {
            conn,
            depth: 0,
            failures: Failures::default(),
            int32_columns: int32_columns(),
            columns: HashMap::new(),
        })
    }

    /// A read-only connection (see [`open`](Self::open)) for sea-orm, and the same
    /// connection for [`DirectSqlite::models`].
    ///
    /// # Errors
    /// When the file cannot be opened or a pragma fails.
    pub fn open_reader(options: &Options) -> Result<(DatabaseConnection, Shared), DbErr> {
        let shared = Shared(Arc::new(Mutex::new(Self::connect(&Options {
            read_only: true,
            ..options.clone()
        })?)));
        Ok((mock_connection(shared.clone()), shared))
    }

    fn run_execute(&self, statement: &Statement) -> Result<(u64, u64), DbErr> {
        self.failures.check()?;
        let run = || -> rusqlite::Result<u64> {
            let mut stmt = self.conn.prepare_cached(&statement.sql)?;
            bind(&mut stmt, values_of(statement))?;
            let mut rows = stmt.raw_query();
            // Statements that answer rows (a pragma) are stepped to the end.
            while rows.next()?.is_some() {}
            Ok(self.conn.changes())
        };
        let rows_affected = run().map_err(|e| DbErr::Exec(runtime_error(&e)))?;
        let last_insert_id = u64::try_from(self.conn.last_insert_rowid()).unwrap_or(0);
        Ok((last_insert_id, rows_affected))
    }

    fn run_query(&mut self, statement: &Statement) -> Result<Vec<BTreeMap<String, Value>>, DbErr> {
        let mut out = Vec::new();
        self.read_rows(&statement.sql, values_of(statement), |columns, row| {
            let mut values = BTreeMap::new();
            for (i, (name, kind)) in columns.iter().enumerate() {
                values.insert(name.clone(), read_column(row, i, name, *kind)?);
            }
            out.push(values);
            Ok(())
        })?;
        Ok(out)
    }

    /// The models of entity `E` that `sql` (an `E::find()` select, with `values`) answers,
    /// read straight into each model: no sea-orm row is built, so a point read costs
    /// SQLite's work and little more.
    ///
    /// # Errors
    /// SQLite's, or a column the entity does not have or cannot hold.
    pub fn models<E: EntityTrait>(
        &mut self,
        sql: &str,
        values: &[Value],
    ) -> Result<Vec<E::Model>, DbErr>
    where
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        let fields: Vec<E::Column> = E::Column::iter().collect();
        let mut positions: Option<Vec<E::Column>> = None;
        let mut out = Vec::new();
        self.read_rows(sql, values, |columns, row| {
            let positions = match &positions {
                Some(positions) => positions,
                None => positions.insert(
                    columns
                        .iter()
                        .enumerate()
                        .map(|(i, (name, _))| {
                            // The select lists the entity's columns in their order.
                            fields
                                .get(i)
                                .filter(|f| f.as_str() == name)
                                .or_else(|| fields.iter().find(|f| f.as_str() == name))
                                .copied()
                                .ok_or_else(|| {
                                    DbErr::Type(format!(
                                        "column {name} is not a field of the model"
                                    ))
                                })
                        })
                        .collect::<Result<_, _>>()?,
                ),
            };
            let mut model = <E::ActiveModel as ActiveModelTrait>::default();
            for (i, ((name, kind), field)) in columns.iter().zip(positions).enumerate() {
                model.try_set(*field, read_column(row, i, name, *kind)?)?;
            }
            out.push(model.try_into_model()?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Runs `sql` with `values` and hands each row, with what its columns are read as, to
    /// `each`.
    fn read_rows(
        &mut self,
        sql: &str,
        values: &[Value],
        mut each: impl FnMut(&[(String, Kind)], &rusqlite::Row<'_>) -> Result<(), DbErr>,
    ) -> Result<(), DbErr> {
        self.failures.check()?;
        let sql_err = |e: rusqlite::Error| DbErr::Query(runtime_error(&e));
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_err)?;
        bind(&mut stmt, values).map_err(sql_err)?;
        let columns = match self.columns.get(sql) {
            Some(columns) => columns.clone(),
            None => {
                let columns: Arc<[(String, Kind)]> = stmt
                    .columns()
                    .iter()
                    .map(|c| {
                        let name = c.name().to_owned();
                        let kind = Kind::of(c.decl_type(), self.int32_columns.contains(&name));
                        (name, kind)
                    })
                    .collect();
                if self.columns.len() >= STATEMENT_CACHE {
                    self.columns.clear();
                }
                self.columns.insert(sql.to_owned(), columns.clone());
                columns
            }
        };
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(sql_err)? {
            each(&columns, row)?;
        }
        Ok(())
    }

    /// Runs a transaction statement; a failure is kept for the writer (see the module
    /// documentation). Answers whether it ran.
    fn control(&self, sql: &str) -> bool {
        match self.conn.execute_batch(sql) {
            Ok(()) => true,
            Err(e) => {
                let message = format!("{sql} failed: {}", describe(&e));
                tracing::error!(error = %message, "SQLite transaction statement failed");
                self.failures.record(message);
                false
            }
        }
    }

    /// Ends whatever transaction is open on the connection, ignoring errors.
    fn abandon(&self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl MockDatabaseTrait for DirectSqlite {
    fn execute(&mut self, _counter: usize, statement: Statement) -> Result<ExecResult, DbErr> {
        let (last_insert_id, rows_affected) = self.run_execute(&statement)?;
        MockDatabase::new(DbBackend::Sqlite)
            .append_exec_results([MockExecResult {
                last_insert_id,
                rows_affected,
            }])
            .execute(0, statement)
    }

    fn query(&mut self, _counter: usize, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let rows = self.run_query(&statement)?;
        MockDatabase::new(DbBackend::Sqlite)
            .append_query_results([rows])
            .query(0, statement)
    }

    fn begin(&mut self) {
        if self.depth == 0 {
            // Whatever a failed batch left open is gone before the next one starts.
            self.abandon();
            self.failures.take();
            self.control("BEGIN IMMEDIATE");
        } else {
            self.control(&format!("SAVEPOINT sea_orm_{}", self.depth));
        }
        self.depth += 1;
    }

    fn commit(&mut self) {
        match self.depth {
            0 => {}
            1 => {
                if self.failures.check().is_err() || !self.control("COMMIT") {
                    // A COMMIT refused (a deferred constraint, a busy database) leaves the
                    // transaction open; nothing of it may stay.
                    self.abandon();
                }
            }
            depth => {
                self.control(&format!("RELEASE sea_orm_{}", depth - 1));
            }
        }
        self.depth = self.depth.saturating_sub(1);
    }

    fn rollback(&mut self) {
        match self.depth {
            0 => {}
            1 => {
                if !self.conn.is_autocommit() {
                    self.control("ROLLBACK");
                }
            }
            depth => {
                self.control(&format!(
                    "ROLLBACK TO sea_orm_{n}; RELEASE sea_orm_{n}",
                    n = depth - 1
                ));
            }
        }
        self.depth = self.depth.saturating_sub(1);
    }

    fn drain_transaction_log(&mut self) -> Vec<Transaction> {
        Vec::new()
    }

    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    fn ping(&self) -> Result<(), DbErr> {
        self.failures.check()
    }
}

fn bind(stmt: &mut rusqlite::CachedStatement<'_>, values: &[Value]) -> rusqlite::Result<()> {
    for (i, value) in values.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, to_sql(value)?)?;
    }
    Ok(())
}

/// The values bound to `statement`.
pub fn values_of(statement: &Statement) -> &[Value] {
    statement
        .values
        .as_ref()
        .map_or(&[], |values| values.0.as_slice())
}

/// A sea-query value as sqlx's SQLite driver encodes it. Text and blobs are bound from
/// where they lie (SQLite copies them as it binds; no copy of ours before that); JSON is
/// written straight to text.
fn to_sql(value: &Value) -> rusqlite::Result<ToSqlOutput<'_>> {
    let unsupported = || {
        rusqlite::Error::ToSqlConversionFailure(
            format!("value type not supported by the SQLite writer: {value:?}").into(),
        )
    };
    Ok(ToSqlOutput::Owned(match value {
        Value::String(Some(v)) => return Ok(ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes()))),
        Value::Bytes(Some(v)) => return Ok(ToSqlOutput::Borrowed(ValueRef::Blob(v))),
        Value::Json(Some(j)) => Sql::Text(
            serde_json::to_string(j)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?,
        ),
        Value::Bool(v) => v.map_or(Sql::Null, |b| Sql::Integer(i64::from(b))),
        Value::TinyInt(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
        Value::SmallInt(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
        Value::Int(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
        Value::BigInt(v) => v.map_or(Sql::Null, Sql::Integer),
        Value::TinyUnsigned(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
        Value::SmallUnsigned(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
        Value::Unsigned(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
        Value::BigUnsigned(v) => match v {
            None => Sql::Null,
            Some(n) => Sql::Integer(i64::try_from(*n).map_err(|_| unsupported())?),
        },
        Value::Float(v) => v.map_or(Sql::Null, |n| Sql::Real(n.into())),
        Value::Double(v) => v.map_or(Sql::Null, Sql::Real),
        Value::String(None) | Value::Bytes(None) | Value::Json(None) => Sql::Null,
        Value::Char(v) => v.map_or(Sql::Null, |c| Sql::Text(c.to_string())),
        Value::ChronoDateTimeUtc(v) => v.map_or(Sql::Null, |t| {
            Sql::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
        }),
        Value::ChronoDateTimeWithTimeZone(v) => v.map_or(Sql::Null, |t| {
            Sql::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
        }),
        Value::ChronoDateTime(v) => {
            v.map_or(Sql::Null, |t| Sql::Text(t.format("%F %T%.f").to_string()))
        }
        Value::ChronoDate(v) => v.map_or(Sql::Null, |d| Sql::Text(d.format("%F").to_string())),
        _ => return Err(unsupported()),
    }))
}

/// What sea-orm expects a column's value to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    BigInt,
    Double,
    Text,
    Bytes,
    Json,
    Timestamp,
    /// An expression (no declared type): by the value SQLite answers.
    Dynamic,
}

impl Kind {
    /// From the column's declared type, as sea-query writes them for SQLite.
    fn of(decl_type: Option<&str>, int32: bool) -> Self {
        let Some(declared) = decl_type else {
            return Self::Dynamic;
        };
        let declared = declared.to_ascii_lowercase();
        if declared.starts_with("bool") {
            Self::Bool
        } else if declared.contains("int") {
            if int32 { Self::Int } else { Self::BigInt }
        } else if declared.starts_with("timestamp") || declared.starts_with("datetime") {
            Self::Timestamp
        } else if declared.starts_with("json") {
            Self::Json
        } else if declared.contains("blob") || declared.contains("binary") {
            Self::Bytes
        } else if declared.contains("real")
            || declared.contains("double")
            || declared.contains("float")
        {
            Self::Double
        } else if declared.contains("char") || declared.contains("text") {
            Self::Text
        } else {
            Self::Dynamic
        }
    }

    fn read(self, value: ValueRef<'_>) -> Result<Value, String> {
        let null = matches!(value, ValueRef::Null);
        let text = |value: ValueRef<'_>| -> Result<String, String> {
            match value {
                ValueRef::Text(t) => String::from_utf8(t.to_vec()).map_err(|e| e.to_string()),
                other => Err(format!("expected text, found {:?}", other.data_type())),
            }
        };
        let integer = |value: ValueRef<'_>| -> Result<i64, String> {
            value.as_i64().map_err(|e| e.to_string())
        };
        Ok(match self {
            Self::Bool => Value::Bool(if null {
                None
            } else {
                Some(integer(value)? != 0)
            }),
            Self::Int => Value::Int(if null {
                None
            } else {
                Some(i32::try_from(integer(value)?).map_err(|e| e.to_string())?)
            }),
            Self::BigInt => Value::BigInt(if null { None } else { Some(integer(value)?) }),
            Self::Double => Value::Double(if null {
                None
            } else {
                Some(value.as_f64().map_err(|e| e.to_string())?)
            }),
            Self::Text => Value::String(if null { None } else { Some(text(value)?) }),
            Self::Bytes => Value::Bytes(if null {
                None
            } else {
                Some(value.as_bytes().map_err(|e| e.to_string())?.to_vec())
            }),
            Self::Json => Value::Json(if null {
                None
            } else {
                let raw = match value {
                    ValueRef::Text(t) | ValueRef::Blob(t) => t,
                    other => return Err(format!("expected JSON, found {:?}", other.data_type())),
                };
                Some(Box::new(
                    serde_json::from_slice(raw).map_err(|e| e.to_string())?,
                ))
            }),
            Self::Timestamp => Value::ChronoDateTimeUtc(if null {
                None
            } else {
                Some(parse_timestamp(&text(value)?)?)
            }),
            Self::Dynamic => match value {
                ValueRef::Null => Value::BigInt(None),
                ValueRef::Integer(n) => Value::BigInt(Some(n)),
                ValueRef::Real(n) => Value::Double(Some(n)),
                ValueRef::Text(_) => Value::String(Some(text(value)?)),
                ValueRef::Blob(b) => Value::Bytes(Some(b.to_vec())),
            },
        })
    }
}

/// Column `i` of `row`, as sea-orm expects it.
fn read_column(row: &rusqlite::Row<'_>, i: usize, name: &str, kind: Kind) -> Result<Value, DbErr> {
    let value = row
        .get_ref(i)
        .map_err(|e| DbErr::Query(runtime_error(&e)))?;
    kind.read(value)
        .map_err(|e| DbErr::Type(format!("column {name}: {e}")))
}

/// Timestamps as sqlx writes them (RFC 3339) or as SQLite's own functions do (UTC, no
/// offset).
fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(text, "%F %T%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%FT%T%.f"))
                .map(|t| t.and_utc())
        })
        .map_err(|e| format!("not a timestamp ({e})"))
}

/// Names of the entities' 32-bit integer columns (see [`DirectSqlite::int32_columns`]).
fn int32_columns() -> HashSet<String> {
    integer_columns().0
}

/// Every entity's integer columns by name: 32-bit ones, then the others.
fn integer_columns() -> (HashSet<String>, HashSet<String>) {
    use entity::prelude::*;
    let mut names = (HashSet::new(), HashSet::new());
    add_integers::<AuditLog>(&mut names);
    add_integers::<ConsentDecision>(&mut names);
    add_integers::<ConsentTextServed>(&mut names);
    add_integers::<Customer>(&mut names);
    add_integers::<Decision>(&mut names);
    add_integers::<Evidence>(&mut names);
    add_integers::<OtpDelivery>(&mut names);
    add_integers::<OutboxMessage>(&mut names);
    add_integers::<Process>(&mut names);
    add_integers::<ProcessContact>(&mut names);
    add_integers::<ProcessEvent>(&mut names);
    add_integers::<Prospect>(&mut names);
    add_integers::<ReviewCase>(&mut names);
    names
}

fn add_integers<E: EntityTrait>((int32, wide): &mut (HashSet<String>, HashSet<String>)) {
    for column in E::Column::iter() {
        match column.def().get_column_type() {
            ColumnType::Integer | ColumnType::SmallInteger | ColumnType::TinyInteger => {
                int32.insert(column.as_str().to_owned());
            }
            ColumnType::BigInteger => {
                wide.insert(column.as_str().to_owned());
            }
            _ => {}
        }
    }
}

fn describe(e: &rusqlite::Error) -> String {
    match e.sqlite_error() {
        Some(code) => format!("{ERROR_PREFIX}{}: {e}", code.extended_code),
        None => e.to_string(),
    }
}

fn runtime_error(e: &rusqlite::Error) -> RuntimeErr {
    RuntimeErr::Internal(describe(e))
}

fn conn_error(e: &rusqlite::Error) -> DbErr {
    DbErr::Conn(runtime_error(e))
}

/// SQLite's extended result code of an error this connection reported.
pub fn error_code(err: &DbErr) -> Option<i32> {
    let (DbErr::Exec(RuntimeErr::Internal(message))
    | DbErr::Query(RuntimeErr::Internal(message))
    | DbErr::Conn(RuntimeErr::Internal(message))) = err
    else {
        return None;
    };
    let rest = message.strip_prefix(ERROR_PREFIX)?;
    rest.split(':').next()?.parse().ok()
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::{TimeZone, Utc};
    use entity::{outbox_message, process};
    use sea_orm::{ActiveModelTrait, ConnectionTrait, Set, TransactionTrait};
    use secrecy::SecretString;

    use super::*;
    use crate::configuration::Settings;
    use crate::persistence::{
        connect, connect_writer, is_unavailable, is_unique_violation, migrate,
    };

    /// A migrated SQLite database in `dir` (a short busy timeout), and its pool.
    pub(crate) async fn database(dir: &std::path::Path) -> (Settings, DatabaseConnection) {
        let mut settings = Settings::default();
        settings.database.url = Some(SecretString::from(format!(
            "sqlite://{}?mode=rwc",
            dir.join("direct.sqlite").display()
        )));
        settings.database.sqlite_busy_timeout_ms = 50;
        migrate(&settings).await.unwrap();
        let pool = connect(&settings).await.unwrap();
        (settings, pool)
    }

    fn message(
        review_case_id: i64,
        attempts: i32,
        status: Option<i32>,
    ) -> outbox_message::ActiveModel {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 18, 50, 1).unwrap()
            + chrono::Duration::microseconds(123_456);
        outbox_message::ActiveModel {
            review_case_id: Set(review_case_id),
            path: Set("/api/identity/verification/client/evaluation".into()),
            payload: Set(serde_json::json!({"result": "OK", "nested": [1, "ž", null]})),
            status: Set("PENDING".into()),
            attempts: Set(attempts),
            uncertain: Set(true),
            next_attempt_at: Set(at),
            lease_until: Set(None),
            lease_owner: Set(Some("owner".into())),
            give_up_at: Set(at + chrono::Duration::days(1)),
            last_http_status: Set(status),
            last_error: Set(None),
            response_result: Set(None),
            response_reason: Set(Some(String::new())),
            created_at: Set(at),
            completed_at: Set(None),
            ..Default::default()
        }
    }

    #[test]
    fn integer_column_names_are_unambiguous() {
        let (int32, wide) = integer_columns();
        assert!(int32.contains("attempts") && wide.contains("id"));
        assert!(
            int32.is_disjoint(&wide),
            "a column name is a 32-bit integer in one entity and a 64-bit one in another: {:?}",
            int32.intersection(&wide).collect::<Vec<_>>()
        );
    }

    /// Rows written on this connection read back the same through sqlx, and the other way
    /// round: every column type the entities use (integers of both widths, booleans, JSON,
    /// timestamps, nulls, text).
    #[tokio::test]
    async fn rows_read_the_same_whichever_connection_wrote_them() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = database(dir.path()).await;
        let (direct, _, _) = connect_writer(&settings, false).unwrap();

        // `insert` writes here, then reads the row back here (the model it answers).
        let written_here = message(1, 3, Some(502)).insert(&direct).await.unwrap();
        let via_sqlx = outbox_message::Entity::find_by_id(written_here.id)
            .one(&pool)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(via_sqlx, written_here);
        assert_eq!(via_sqlx.next_attempt_at.timestamp_subsec_micros(), 123_456);

        let written_by_sqlx = message(2, -7, None).insert(&pool).await.unwrap();
        let via_direct = outbox_message::Entity::find_by_id(written_by_sqlx.id)
            .one(&direct)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(via_direct, written_by_sqlx);

        // The text of a timestamp is sqlx's, so that comparisons in SQL hold across both.
        let texts: Vec<String> = pool
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT created_at FROM outbox_message ORDER BY id",
            ))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String>("", "created_at").unwrap())
            .collect();
        assert_eq!(texts[0], texts[1]);
    }

    #[tokio::test]
    async fn models_read_directly_are_the_models_sea_orm_reads() {
        use sea_orm::{QueryFilter, QueryOrder};

        use crate::persistence::{ReadModels, connect_readers};

        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = database(dir.path()).await;
        let first = message(1, 3, Some(502)).insert(&pool).await.unwrap();
        let second = message(2, -7, None).insert(&pool).await.unwrap();
        let readers = connect_readers(&settings, &pool, 1).unwrap();
        let reader = readers.local();
        assert!(reader.direct.is_some(), "a SQLite reader reads directly");

        let all = || outbox_message::Entity::find().order_by_desc(outbox_message::Column::Id);
        let direct = reader.all(all()).await.unwrap();
        assert_eq!(direct, vec![second.clone(), first.clone()]);
        assert_eq!(direct, pool.all(all()).await.unwrap());
        assert_eq!(direct[1].payload["nested"][1], "ž");
        assert_eq!(direct[1].next_attempt_at.timestamp_subsec_micros(), 123_456);

        // Nothing found is no model, not an error.
        let none = all().filter(outbox_message::Column::Path.eq("/nothing"));
        assert!(reader.all(none).await.unwrap().is_empty());

        // A row the model cannot hold is an error, not a panic.
        pool.execute_unprepared("UPDATE outbox_message SET attempts = 'many' WHERE id = 1")
            .await
            .unwrap();
        let err = reader.all(all()).await.unwrap_err();
        assert!(err.to_string().contains("attempts"), "{err}");
    }

    #[tokio::test]
    async fn a_prepared_select_keeps_its_sql_only_when_its_values_come_first() {
        use sea_orm::{QueryFilter, QueryOrder, QuerySelect};

        use crate::persistence::{Prepared, ReadModels, connect_readers};

        static IN_ORDER: Prepared<outbox_message::Entity, 2> = Prepared::new(|[path, owner]| {
            outbox_message::Entity::find()
                .filter(outbox_message::Column::Path.eq(path))
                .filter(outbox_message::Column::LeaseOwner.eq(owner))
                .order_by_asc(outbox_message::Column::Id)
                .limit(1)
        });
        // Its values bound the other way round: correct, but built at every call.
        static REVERSED: Prepared<outbox_message::Entity, 2> = Prepared::new(|[path, owner]| {
            outbox_message::Entity::find()
                .filter(outbox_message::Column::LeaseOwner.eq(owner))
                .filter(outbox_message::Column::Path.eq(path))
        });

        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = database(dir.path()).await;
        let mut first = message(1, 3, Some(502));
        first.path = Set("/a".into());
        let first = first.insert(&pool).await.unwrap();
        let mut second = message(2, 3, None);
        second.lease_owner = Set(Some("other".into()));
        let second = second.insert(&pool).await.unwrap();
        let readers = connect_readers(&settings, &pool, 1).unwrap();
        let reader = readers.local();

        for query in [&IN_ORDER, &REVERSED] {
            let found =
                |path: &str, owner: &str| reader.prepared(query, [path.into(), owner.into()]);
            // A first call whose values are alike does not hide the order they bind in.
            assert!(found("same", "same").await.unwrap().is_empty());
            assert_eq!(found("/a", "owner").await.unwrap(), vec![first.clone()]);
            let path = second.path.as_str();
            assert_eq!(found(path, "other").await.unwrap(), vec![second.clone()]);
            assert!(found(path, "owner").await.unwrap().is_empty());
            // The pool gives the same answers.
            assert_eq!(
                pool.prepared(query, [path.into(), "other".into()])
                    .await
                    .unwrap(),
                vec![second.clone()]
            );
        }
        let kept = IN_ORDER.sqlite.get().unwrap().as_ref().unwrap();
        assert!(kept.sql.contains("LIMIT"), "{}", kept.sql);
        assert!(REVERSED.sqlite.get().unwrap().is_none());
    }

    #[tokio::test]
    async fn a_duplicate_key_is_a_unique_violation() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, _pool) = database(dir.path()).await;
        let (direct, _, _) = connect_writer(&settings, false).unwrap();
        let now = Utc::now();
        let row = || process::ActiveModel {
            process_id: Set("p-1".into()),
            process_type: Set(None),
            user_id: Set(None),
            identity_verification_id: Set(None),
            last_callback: Set("user_lookup".into()),
            first_seen_at: Set(now),
            last_seen_at: Set(now),
        };
        process::Entity::insert(row())
            .exec_without_returning(&direct)
            .await
            .unwrap();
        let err = process::Entity::insert(row())
            .exec_without_returning(&direct)
            .await
            .unwrap_err();
        assert!(is_unique_violation(&err), "{err}");
        assert!(!is_unavailable(&err), "{err}");
        assert_eq!(error_code(&err), Some(1555));
    }

    /// A BEGIN that cannot take the write lock (another connection holds it beyond the busy
    /// timeout) cannot be reported by sea-orm's interface: the statements after it fail as
    /// an unavailable database, and the failure waits for the writer.
    #[tokio::test]
    async fn a_failed_begin_breaks_the_transaction_and_is_handed_over() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = database(dir.path()).await;
        let (direct, failures, _) = connect_writer(&settings, false).unwrap();
        let holder = pool.begin().await.unwrap();
        message(20, 0, None).insert(&holder).await.unwrap();

        let txn = direct.begin().await.unwrap();
        let err = txn
            .execute_unprepared("DELETE FROM process WHERE process_id = 'other'")
            .await
            .unwrap_err();
        assert!(is_unavailable(&err), "{err}");
        txn.commit().await.unwrap();
        let failure = failures.take().expect("the failed BEGIN is handed over");
        assert!(is_unavailable(&failure), "{failure}");
        assert!(failure.to_string().contains("BEGIN IMMEDIATE"), "{failure}");
        assert!(failures.take().is_none(), "handed over once");

        // Once the lock is free, the next transaction works again.
        holder.rollback().await.unwrap();
        let txn = direct.begin().await.unwrap();
        txn.execute_unprepared("DELETE FROM process WHERE process_id = 'other'")
            .await
            .unwrap();
        txn.commit().await.unwrap();
        assert!(failures.take().is_none());
    }

    /// Nested transactions are savepoints: an inner rollback undoes only the inner writes.
    #[tokio::test]
    async fn nested_transactions_are_savepoints() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = database(dir.path()).await;
        let (direct, failures, _) = connect_writer(&settings, false).unwrap();
        let outer = direct.begin().await.unwrap();
        message(10, 0, None).insert(&outer).await.unwrap();
        let inner = outer.begin().await.unwrap();
        message(11, 0, None).insert(&inner).await.unwrap();
        inner.rollback().await.unwrap();
        let kept = outer.begin().await.unwrap();
        message(12, 0, None).insert(&kept).await.unwrap();
        kept.commit().await.unwrap();
        outer.commit().await.unwrap();
        assert!(failures.take().is_none());
        let mut ids: Vec<i64> = outbox_message::Entity::find()
            .all(&pool)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.review_case_id)
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![10, 12]);
    }
}

//! The write path of the callbacks: each unit of work is acknowledged only after what it
//! wrote is committed.
//!
//! A unit gets a [`DatabaseExecutor`]. On PostgreSQL and MySQL that is the pool itself, in
//! the caller's task: the unit's statements autocommit, exactly as if it had been called
//! on the pool, and a unit that needs several writes to be atomic opens its own
//! transaction with `begin()`.
//!
//! SQLite has a single writer lock: many pooled connections racing for it sleep in
//! SQLite's busy handler, and a connection held by a request task waits whenever the actix
//! worker thread is busy with other requests. So on SQLite the units go to one **group
//! commit** writer instead: a dedicated thread with its own connection (a `rusqlite` one
//! driven in that thread, see [`super::sqlite_direct`]) takes every unit
//! queued while the previous batch ran, runs each inside a savepoint of one `BEGIN
//! IMMEDIATE` transaction (its own `begin()` nests a savepoint), commits once, and only
//! then answers each caller. A unit that fails is rolled back to its savepoint and fails
//! alone; a commit that fails fails the whole batch, so no caller is ever told "stored"
//! for a row that is not.
//!
//! With `synchronous = "full"` the commit itself does not sync: the `db-sync` thread
//! (`Syncer`) syncs the WAL behind the writer, and the callers of [`Writer::write`] and
//! [`Writer::write_with`] are answered after that sync; those of [`Writer::record_with`]
//! (records the answer does not acknowledge) at the commit. While a batch runs, a unit's
//! reads run on the writer's connection directly (see `persistence::ReadModels`), in the
//! batch's transaction.
//!
//! The WAL is copied back into the database file by a second thread, `db-checkpoint`, on
//! its own connection (SQLite's automatic checkpoint is off): a checkpoint copies pages
//! and syncs the database file, and done by the writer it held every commit queued behind
//! it (`cargo bench --bench http_load`: /client/evaluate p99 12.1 → 9.9 ms). The writer
//! tells it after each commit; it waits
//! [`CHECKPOINT_PACE`] for more, then runs one PASSIVE checkpoint, which neither waits for
//! nor blocks the writer and readers. An idle service does no checkpoints. Under sustained
//! load the WAL would never start again from its beginning (see
//! [`Checkpoints::after_commit`]), so past [`WAL_RESTART_FRAMES`] the writer runs one short
//! checkpoint itself. The writer also runs the last one as it stops, and takes over if the
//! checkpointer is gone.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

use futures_util::FutureExt;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseExecutor, DatabaseTransaction, DbErr, RuntimeErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use super::sqlite_direct::Failures;
use crate::configuration::{Settings, SqliteSync};

/// Most units in one commit: bounds the time the write lock is held and the latency a
/// batch adds to its first unit.
const MAX_BATCH: usize = 128;
/// Units waiting for the writer; a caller waits (back-pressure) when it is full.
const QUEUE: usize = 1024;
/// How long the checkpointer lets commits gather after the first one it is told of.
const CHECKPOINT_PACE: std::time::Duration = std::time::Duration::from_millis(10);
/// WAL length (frames: 32 MiB of 4 KiB pages) past which the writer runs one checkpoint
/// itself between two batches (see [`Checkpoints::after_commit`]).
const WAL_RESTART_FRAMES: i64 = if cfg!(test) { 64 } else { 8192 };
/// How many batches in a row the writer tries to complete a checkpoint for a restart.
const RESTART_TRIES: u32 = 8;
/// Once the checkpointer is gone, the writer checkpoints every this many batches.
const CHECKPOINT_EVERY: u32 = 32;

/// Boxed future borrowing the executor.
pub type UnitFuture<'c, T, E = DbErr> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

/// Tells a queued unit how its batch ended: `None` when it committed.
type Finish = Box<dyn FnOnce(Option<&DbErr>) + Send>;
/// A unit that runs once: run in the batch's transaction (inside a savepoint unless it is
/// the batch's only unit), or `None` when the batch could not start. Answers how to finish
/// it and whether it failed.
type OnceUnit = Box<
    dyn for<'c> FnOnce(
            Option<(&'c DatabaseTransaction, bool)>,
        ) -> Pin<Box<dyn Future<Output = (Finish, bool)> + Send + 'c>>
        + Send,
>;

/// What the group-commit thread is sent.
enum Queued {
    /// From [`Writer::write`]: it may consume what it writes (image bytes moved into their
    /// statement), so it runs once, in its own savepoint.
    Once(OnceUnit),
    /// From [`Writer::write_with`]: it borrows its data, so it can run again from the start.
    /// Such units run without savepoints; if one fails, they are all undone and run again,
    /// each in its own savepoint.
    Again(Box<dyn Replayable>),
}

/// A queued [`Writer::write_with`] unit.
trait Replayable: Send {
    /// Runs the unit (inside a savepoint when asked) and keeps its outcome; true when it
    /// failed.
    fn run<'c>(
        &'c mut self,
        txn: &'c DatabaseTransaction,
        savepoint: bool,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>>;

    /// Answers the caller: the kept outcome, unless the batch did not commit.
    fn finish(self: Box<Self>, commit: Option<&DbErr>);

    /// Whether the caller is answered only once the commit is on disk (see [`Answer`]).
    fn answer(&self) -> Answer;
}

/// When a unit's caller is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Once what it wrote is on disk: for what the answer acknowledges as stored.
    Synced,
    /// Once what it wrote is committed (seen by every later read, and kept when the
    /// process dies); on disk with the WAL sync that follows, a few milliseconds later.
    /// For the adapter's own records that the answer does not acknowledge.
    Committed,
}

struct Again<D, T, E, F> {
    data: D,
    unit: F,
    answer: Answer,
    outcome: Option<Result<T, E>>,
    /// The answer, and the data handed back so that the caller's thread frees it (freeing
    /// on this thread what another allocated costs the writer more).
    done: oneshot::Sender<(Result<T, E>, D)>,
}

impl<D, T, E, F> Replayable for Again<D, T, E, F>
where
    D: Send + Sync + 'static,
    T: Send + 'static,
    E: From<DbErr> + Send + 'static,
    F: for<'c> Fn(&'c D, DatabaseExecutor<'c>) -> UnitFuture<'c, T, E> + Send + Sync + 'static,
{
    fn run<'c>(
        &'c mut self,
        txn: &'c DatabaseTransaction,
        savepoint: bool,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>> {
        Box::pin(async move {
            let (data, unit) = (&self.data, &self.unit);
            let outcome = run_unit(txn, savepoint, |db| unit(data, db)).await;
            let failed = outcome.is_err();
            self.outcome = Some(outcome);
            failed
        })
    }

    fn finish(self: Box<Self>, commit: Option<&DbErr>) {
        let Self {
            data,
            outcome,
            done,
            ..
        } = *self;
        let _ = done.send((answer(outcome, commit), data));
    }

    fn answer(&self) -> Answer {
        self.answer
    }
}

/// What a unit's caller is told: its own error, its value once committed, or why the
/// batch did not commit.
fn answer<T, E: From<DbErr>>(
    outcome: Option<Result<T, E>>,
    commit: Option<&DbErr>,
) -> Result<T, E> {
    match (outcome, commit) {
        (Some(Err(e)), _) => Err(e),
        (Some(Ok(value)), None) => Ok(value),
        (_, Some(e)) => Err(commit_failed(e).into()),
        (None, None) => Err(stopped().into()),
    }
}

/// Runs units of write work; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    /// Each unit on the shared pool.
    Pool(DatabaseConnection),
    /// Units queued to the group-commit thread, and why its writes can no longer be
    /// trusted to reach the disk (a failed WAL sync), if they cannot.
    Batched(mpsc::Sender<Queued>, Broken),
}

/// Set once a sync of the WAL has failed: after a failed `fsync` the kernel may have
/// dropped the pages it could not write, and a later sync that succeeds says nothing about
/// them (PostgreSQL stops for the same reason). From then on every write fails as
/// unavailable and `/health/ready` answers 503, until the service is restarted.
#[derive(Clone, Default)]
struct Broken(Arc<std::sync::OnceLock<String>>);

impl Broken {
    /// Records why (the first cause is kept) and answers the error every write now gets.
    fn set(&self, why: &str) -> DbErr {
        Self::failed(self.0.get_or_init(|| why.to_owned()))
    }

    fn error(&self) -> Option<DbErr> {
        self.0.get().map(|why| Self::failed(why))
    }

    fn failed(why: &str) -> DbErr {
        DbErr::Conn(RuntimeErr::Internal(format!(
            "the database file could not be synced ({why}); restart the service"
        )))
    }
}

impl Writer {
    /// A writer for `pool`'s database: the group-commit thread (with its own connection)
    /// for SQLite, the pool itself otherwise.
    ///
    /// # Errors
    /// When the writer's connection cannot be opened.
    pub async fn start(settings: &Settings, pool: &DatabaseConnection) -> anyhow::Result<Self> {
        Self::start_measured(settings, pool, None).await
    }

    /// Like [`start`](Self::start); the duration of every WAL sync (SQLite with
    /// `synchronous = "full"`) is observed in `wal_sync`.
    ///
    /// # Errors
    /// When the writer's connection cannot be opened.
    pub async fn start_measured(
        settings: &Settings,
        pool: &DatabaseConnection,
        wal_sync: Option<prometheus::Histogram>,
    ) -> anyhow::Result<Self> {
        if pool.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
            return Ok(Self {
                inner: Inner::Pool(pool.clone()),
            });
        }
        let settings = settings.clone();
        let (ready_tx, ready_rx) = oneshot::channel();
        let (tx, rx) = mpsc::channel(QUEUE);
        let broken = Broken::default();
        let sync_broken = broken.clone();
        std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::Error::new(e)));
                        return;
                    }
                };
                // `FULL`: the writer's connection commits without syncing (SQLite's NORMAL) and
                // the `db-sync` thread syncs the WAL behind it (see `Syncer`).
                let sync_behind = settings.database.sqlite_synchronous == SqliteSync::Full;
                let opened = super::connect_writer(&settings, sync_behind).and_then(|writer| {
                    let checkpointer = super::connect_checkpointer(&settings)?;
                    let (commits, committed) = std::sync::mpsc::sync_channel(1);
                    let restart = Arc::new(AtomicBool::new(false));
                    let long_wal = restart.clone();
                    let checkpoints_broken = sync_broken.clone();
                    let thread = std::thread::Builder::new()
                        .name("db-checkpoint".into())
                        .spawn(move || {
                            run_checkpoints(
                                &checkpointer,
                                &committed,
                                &long_wal,
                                &checkpoints_broken,
                            );
                        })?;
                    let checkpoints = Checkpoints {
                        commits,
                        restart,
                        orphaned: None,
                        restart_tries: 0,
                    };
                    let syncer = if sync_behind {
                        // The WAL file SQLite writes (its name follows symbolic links), opened
                        // now: a service that could not sync it must not start.
                        let wal = writer.2.lock().wal_file()?;
                        Some(Syncer::start(wal, sync_broken.clone(), wal_sync)?)
                    } else {
                        None
                    };
                    Ok((writer, checkpoints, thread, syncer))
                });
                match opened {
                    Ok(((db, failures, direct), checkpoints, checkpointer, syncer)) => {
                        let _ = ready_tx.send(Ok(()));
                        let connection = Connection {
                            db,
                            direct,
                            failures,
                        };
                        runtime.block_on(run(connection, rx, checkpoints, syncer, &sync_broken));
                        // The checkpointer stops once the writer's sender is gone.
                        let _ = checkpointer.join();
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })?;
        ready_rx
            .await
            .map_err(|_| anyhow::anyhow!("the database writer thread stopped while starting"))??;
        Ok(Self {
            inner: Inner::Batched(tx, broken),
        })
    }

    /// False when the group-commit thread has stopped, or a WAL sync has failed (every
    /// write would fail).
    pub fn is_running(&self) -> bool {
        match &self.inner {
            Inner::Pool(_) => true,
            Inner::Batched(queue, broken) => !queue.is_closed() && broken.error().is_none(),
        }
    }

    /// Runs `unit` and returns its value once what it wrote is committed. On SQLite an
    /// error from `unit` rolls back everything it wrote, and only that.
    ///
    /// # Errors
    /// The unit's own error, or the database's when the batch cannot start or commit.
    pub async fn write<T, E, F>(&self, unit: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbErr> + Send + 'static,
        F: for<'c> FnOnce(DatabaseExecutor<'c>) -> UnitFuture<'c, T, E> + Send + 'static,
    {
        match &self.inner {
            Inner::Pool(db) => unit(DatabaseExecutor::Connection(db)).await,
            Inner::Batched(queue, _) => {
                let (done_tx, done_rx) = oneshot::channel();
                let queued = Queued::Once(Box::new(move |txn| {
                    Box::pin(async move {
                        let outcome = match txn {
                            Some((txn, savepoint)) => Some(run_unit(txn, savepoint, unit).await),
                            None => None,
                        };
                        let failed = matches!(outcome, Some(Err(_)));
                        let finish = Box::new(move |commit: Option<&DbErr>| {
                            let _ = done_tx.send(answer(outcome, commit));
                        }) as Finish;
                        (finish, failed)
                    })
                }));
                queue.send(queued).await.map_err(|_| stopped())?;
                done_rx.await.map_err(|_| E::from(stopped()))?
            }
        }
    }
}

impl Writer {
    /// Like [`write`](Self::write), for a unit that borrows `data` instead of consuming
    /// it, so that it can run again from the start. On SQLite such units run without a
    /// savepoint of their own (one round trip to SQLite's thread fewer each); if one fails,
    /// the batch's replayable units are undone and run again, each in its own savepoint.
    /// A unit must therefore do nothing but database work: it may run twice, and only the
    /// last run counts.
    ///
    /// # Errors
    /// The unit's own error, or the database's when the batch cannot start or commit.
    pub async fn write_with<D, T, E, F>(&self, data: D, unit: F) -> Result<T, E>
    where
        D: Send + Sync + 'static,
        T: Send + 'static,
        E: From<DbErr> + Send + 'static,
        F: for<'c> Fn(&'c D, DatabaseExecutor<'c>) -> UnitFuture<'c, T, E> + Send + Sync + 'static,
    {
        self.replayable(data, unit, Answer::Synced).await
    }

    /// Like [`write_with`](Self::write_with), for the adapter's own records that the
    /// caller's answer does not acknowledge (the consent text served, the process seen by
    /// a lookup): the unit's caller is answered once it is committed, without waiting for
    /// the WAL sync that follows ([`Answer::Committed`]). A kill of the process loses
    /// nothing answered; a power cut can lose what was committed in the last few
    /// milliseconds. On PostgreSQL and MySQL it is the same as `write_with`.
    ///
    /// # Errors
    /// The unit's own error, or the database's when the batch cannot start or commit.
    pub async fn record_with<D, T, E, F>(&self, data: D, unit: F) -> Result<T, E>
    where
        D: Send + Sync + 'static,
        T: Send + 'static,
        E: From<DbErr> + Send + 'static,
        F: for<'c> Fn(&'c D, DatabaseExecutor<'c>) -> UnitFuture<'c, T, E> + Send + Sync + 'static,
    {
        self.replayable(data, unit, Answer::Committed).await
    }

    async fn replayable<D, T, E, F>(&self, data: D, unit: F, answer: Answer) -> Result<T, E>
    where
        D: Send + Sync + 'static,
        T: Send + 'static,
        E: From<DbErr> + Send + 'static,
        F: for<'c> Fn(&'c D, DatabaseExecutor<'c>) -> UnitFuture<'c, T, E> + Send + Sync + 'static,
    {
        match &self.inner {
            Inner::Pool(db) => unit(&data, DatabaseExecutor::Connection(db)).await,
            Inner::Batched(queue, _) => {
                let (done, done_rx) = oneshot::channel();
                let queued = Queued::Again(Box::new(Again {
                    data,
                    unit,
                    answer,
                    outcome: None,
                    done,
                }));
                queue.send(queued).await.map_err(|_| stopped())?;
                let (outcome, data) = done_rx.await.map_err(|_| E::from(stopped()))?;
                drop(data);
                outcome
            }
        }
    }
}

/// Runs the unit in the batch's transaction, inside a savepoint when `savepoint`, so that
/// its failure undoes only its own writes.
///
/// The savepoint is never released: the batch's commit releases them all, and a later
/// `ROLLBACK TO` finds the most recent savepoint of that name, which is its own unit's.
/// That saves a statement, and with it a round trip to SQLite's thread, per unit.
async fn run_unit<'c, T, E: From<DbErr>>(
    txn: &'c DatabaseTransaction,
    savepoint: bool,
    unit: impl FnOnce(DatabaseExecutor<'c>) -> UnitFuture<'c, T, E>,
) -> Result<T, E> {
    if !savepoint {
        return unit(DatabaseExecutor::Transaction(txn)).await;
    }
    txn.execute_unprepared("SAVEPOINT unit").await?;
    let outcome = unit(DatabaseExecutor::Transaction(txn)).await;
    if outcome.is_err() {
        // A failed rollback leaves the outer transaction broken; its commit then fails
        // and reports that to every unit of the batch.
        if let Err(e) = txn.execute_unprepared("ROLLBACK TO unit").await {
            tracing::error!(error = %e, "could not undo a failed write unit");
        }
    }
    outcome
}

/// The group-commit loop: one batch per turn, until every [`Writer`] is dropped.
/// The writer's connection: through sea-orm, directly (the units' reads), and where its
/// failed transaction statements are kept.
struct Connection {
    db: DatabaseConnection,
    direct: super::sqlite_direct::Shared,
    failures: Failures,
}

async fn run(
    Connection {
        db,
        direct,
        failures,
    }: Connection,
    mut queue: mpsc::Receiver<Queued>,
    mut checkpoints: Checkpoints,
    syncer: Option<Syncer>,
    broken: &Broken,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Batches are numbered; the last one with synced units.
    let (mut number, mut last_acknowledged) = (0u64, 0u64);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let size = batch.len();
        number += 1;
        if let Some(e) = broken.error() {
            fail_all(&mut batch, &e).await;
            continue;
        }
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let begun = match db.begin_with_options(options).await {
            Ok(txn) => failures.take().map_or(Ok(txn), Err),
            Err(e) => Err(e),
        };
        let txn = match begun {
            Ok(txn) => txn,
            Err(e) => {
                tracing::error!(error = %e, units = size, "could not start the write transaction");
                fail_all(&mut batch, &e).await;
                continue;
            }
        };
        // The units' reads run on the writer's connection directly, in this transaction.
        let in_batch = super::InBatch::begin(&direct);
        // A unit alone in its batch needs no savepoint: if it fails, the whole transaction
        // is rolled back.
        let alone = size == 1;
        // Answered after the WAL sync, and answered at the commit.
        let mut finishes: Vec<Finish> = Vec::with_capacity(size);
        let mut at_commit: Vec<Finish> = Vec::new();
        let mut again = Vec::new();
        let mut panicked = 0;
        let mut alone_failed = false;
        // Units that run once first, each in its own savepoint.
        for queued in batch.drain(..) {
            let unit = match queued {
                Queued::Once(unit) => unit,
                Queued::Again(unit) => {
                    again.push(unit);
                    continue;
                }
            };
            // A unit that panics must not take the writer thread down with it. Its caller
            // sees its reply channel dropped ("writer not running", 503).
            match AssertUnwindSafe(unit(Some((&txn, !alone))))
                .catch_unwind()
                .await
            {
                Ok((finish, failed)) => {
                    alone_failed = failed && alone;
                    finishes.push(finish);
                }
                Err(_) => panicked += 1,
            }
        }
        // Then the replayable ones, without savepoints, replayed in savepoints if one fails.
        if !again.is_empty() {
            match AssertUnwindSafe(run_replayable(&txn, &mut again, alone))
                .catch_unwind()
                .await
            {
                Ok(failed) => alone_failed |= failed && alone,
                Err(_) => panicked += 1,
            }
        }
        for unit in again {
            let answer = unit.answer();
            let finish = Box::new(move |commit: Option<&DbErr>| unit.finish(commit)) as Finish;
            match answer {
                Answer::Synced => finishes.push(finish),
                Answer::Committed => at_commit.push(finish),
            }
        }
        let outcome = if alone_failed {
            // The unit's own error is its answer; nothing of it is kept.
            txn.rollback().await
        } else if panicked > 0 {
            // What the panicking unit left in the transaction is unknown: nothing of this
            // batch is kept, and every unit is told so.
            tracing::error!(
                units = size,
                panicked,
                "a write unit panicked; batch rolled back"
            );
            let _ = txn.rollback().await;
            Err(DbErr::Custom(
                "a unit of the same batch failed unexpectedly".into(),
            ))
        } else {
            txn.commit().await
        };
        drop(in_batch);
        // A BEGIN, COMMIT or savepoint statement that failed fails the whole batch.
        let outcome = match failures.take() {
            Some(e) => Err(e),
            None => outcome,
        };
        match outcome {
            Ok(()) => match &syncer {
                Some(syncer) => {
                    if !finishes.is_empty() {
                        last_acknowledged = number;
                    }
                    // A unit answered at the commit may have read what an acknowledged unit
                    // wrote (a consent approval a lookup counts): while such writes are not
                    // on disk yet, it is answered after the same sync, so that no answer
                    // rests on a write that a power cut could still take back.
                    if syncer.durable_through.load(Ordering::SeqCst) < last_acknowledged {
                        finishes.append(&mut at_commit);
                    }
                    at_commit.into_iter().for_each(|finish| finish(None));
                    syncer.after_commit(number, finishes);
                }
                None => at_commit
                    .into_iter()
                    .chain(finishes)
                    .for_each(|finish| finish(None)),
            },
            Err(e) => {
                tracing::error!(error = %e, units = size, "the write transaction did not commit");
                at_commit
                    .into_iter()
                    .chain(finishes)
                    .for_each(|finish| finish(Some(&e)));
            }
        }
        checkpoints.after_commit(&db).await;
    }
    // What is committed is synced before the connection closes (the syncer stops once its
    // channel is dropped), then the last checkpoint, by the writer itself as it stops (the
    // checkpointer stops once its channel is dropped).
    if let Some(syncer) = syncer {
        syncer.stop();
    }
    drop(checkpoints);
    // After a failed sync nothing more is copied into the database file: what the kernel
    // could not write may read back wrong, and the WAL's checksums are checked only when
    // it is recovered at the next start.
    if broken.error().is_none() {
        checkpoint(&db).await;
    }
}

/// Answers every unit of a batch that could not run with `e`.
async fn fail_all(batch: &mut Vec<Queued>, e: &DbErr) {
    for queued in batch.drain(..) {
        match queued {
            Queued::Once(unit) => unit(None).await.0(Some(e)),
            Queued::Again(unit) => unit.finish(Some(e)),
        }
    }
}

/// Syncs the WAL file behind the writer (`database.sqlite_synchronous = "full"`).
///
/// SQLite's `synchronous = FULL` syncs the WAL inside every `COMMIT`, so the writer can
/// run no batch while the disk flushes (about 1 to 4 ms here, 140 ms at worst), and every
/// request queued meanwhile waits for that flush and then its own. Instead the writer's
/// connection commits with `NORMAL` (the WAL is written, not synced; SQLite keeps the
/// database consistent either way) and hands the batch's [`Answer::Synced`] callers to
/// this thread, which syncs the WAL file (`fdatasync`, one for every commit made
/// meanwhile) and only then answers them. The writer runs the next batch during the sync.
///
/// Every commit is synced: at once when somebody waits for it, otherwise within
/// [`SYNC_PACE`] (commits only [`Answer::Committed`] callers wait for share one sync per
/// pace, instead of one each).
struct Syncer {
    commits: std::sync::mpsc::Sender<Commit>,
    /// Set by the writer at a commit when the syncer has not yet been told of one since its
    /// last sync (see [`run_syncs`]).
    unsynced: Arc<AtomicBool>,
    /// The last batch (its number) with [`Answer::Synced`] units that is on disk.
    durable_through: Arc<std::sync::atomic::AtomicU64>,
    broken: Broken,
    thread: std::thread::JoinHandle<()>,
}

/// How long a commit that nobody waits for may stay unsynced (see [`Syncer`]).
const SYNC_PACE: std::time::Duration = std::time::Duration::from_millis(4);

impl Syncer {
    fn start(
        (path, wal): (std::path::PathBuf, std::fs::File),
        broken: Broken,
        measured: Option<prometheus::Histogram>,
    ) -> anyhow::Result<Self> {
        let (commits, committed) = std::sync::mpsc::channel::<Commit>();
        let unsynced = Arc::new(AtomicBool::new(false));
        let durable_through = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (failed, told, through) = (broken.clone(), unsynced.clone(), durable_through.clone());
        let thread = std::thread::Builder::new()
            .name("db-sync".into())
            .spawn(move || {
                let wal = Wal {
                    path,
                    file: wal,
                    measured,
                };
                run_syncs(&wal, &committed, &told, &through, &failed);
            })?;
        Ok(Self {
            commits,
            unsynced,
            durable_through,
            broken,
            thread,
        })
    }

    /// Batch `batch` committed: its synced callers are answered after the next sync. A
    /// commit without any is told of only if it is the first since the last sync.
    fn after_commit(&self, batch: u64, finishes: Vec<Finish>) {
        if finishes.is_empty() && self.unsynced.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Err(std::sync::mpsc::SendError((_, finishes))) = self.commits.send((batch, finishes))
        {
            // Nothing committed from now on would ever be synced: the writer stops.
            tracing::error!("the WAL sync thread has stopped; the writer stops accepting writes");
            let e = self.broken.set("the WAL sync thread has stopped");
            finishes.into_iter().for_each(|finish| finish(Some(&e)));
        }
    }

    /// Syncs what is committed, answers the last callers and stops the thread.
    fn stop(self) {
        drop(self.commits);
        let _ = self.thread.join();
    }
}

/// The syncer's loop: takes every commit told of since the last sync (waiting up to
/// [`SYNC_PACE`] while nobody waits for one), syncs the WAL once, answers their callers;
/// stops when the writer does, after a last sync.
/// The WAL file the syncer syncs, and where it reports how long each sync took.
struct Wal {
    path: std::path::PathBuf,
    file: std::fs::File,
    measured: Option<prometheus::Histogram>,
}

impl Wal {
    fn sync(&self) -> std::io::Result<()> {
        let started = std::time::Instant::now();
        let synced = self.file.sync_data();
        if let Some(histogram) = &self.measured {
            histogram.observe(started.elapsed().as_secs_f64());
        }
        synced
    }
}

fn run_syncs(
    wal: &Wal,
    committed: &Receiver<Commit>,
    unsynced: &AtomicBool,
    durable_through: &std::sync::atomic::AtomicU64,
    broken: &Broken,
) {
    use std::sync::mpsc::RecvTimeoutError;
    while let Ok((mut last, mut waiting)) = committed.recv() {
        let deadline = std::time::Instant::now() + SYNC_PACE;
        let mut take = |(batch, finishes): Commit, waiting: &mut Vec<Finish>| {
            last = last.max(batch);
            waiting.extend(finishes);
        };
        while waiting.is_empty() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match committed.recv_timeout(left) {
                Ok(more) => take(more, &mut waiting),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        while let Ok(more) = committed.try_recv() {
            take(more, &mut waiting);
        }
        // Cleared before the sync: a commit made after this is told of again, and one made
        // before it is covered by this sync.
        unsynced.store(false, Ordering::SeqCst);
        let synced = match broken.error() {
            Some(e) => Err(e),
            // The WAL is never deleted while the writer's connection is open (WAL mode keeps
            // a shared lock on the database file), and is cut back in place.
            None => wal.sync().map_err(|e| {
                tracing::error!(error = %e, file = %wal.path.display(), "the WAL could not be synced; the writer stops accepting writes");
                broken.set(&e.to_string())
            }),
        };
        if synced.is_ok() {
            durable_through.fetch_max(last, Ordering::SeqCst);
        }
        let outcome = synced.err();
        waiting
            .into_iter()
            .for_each(|finish| finish(outcome.as_ref()));
    }
}

/// A commit told of to the syncer: the batch's number, and its synced callers.
type Commit = (u64, Vec<Finish>);

/// The writer's side of the checkpointer.
struct Checkpoints {
    commits: SyncSender<()>,
    /// Set by the checkpointer when the WAL has grown past [`WAL_RESTART_FRAMES`].
    restart: Arc<AtomicBool>,
    /// Batches since the writer's own last checkpoint, once the checkpointer is gone.
    orphaned: Option<u32>,
    /// The writer's checkpoints so far for the current `restart` request.
    restart_tries: u32,
}

impl Checkpoints {
    /// Tells the checkpointer of a commit (a full channel: it is told already).
    ///
    /// SQLite starts writing the WAL from its beginning again only when a write
    /// transaction begins with every frame copied, which a checkpoint running beside
    /// continuous commits never leaves behind. So once the WAL is long, the writer runs one
    /// PASSIVE checkpoint itself between two batches: the checkpointer has copied nearly
    /// everything, so it is short, and the next batch restarts the WAL (which
    /// `journal_size_limit` then truncates).
    async fn after_commit(&mut self, db: &DatabaseConnection) {
        match self.commits.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => {
                let batches = self.orphaned.get_or_insert_with(|| {
                    tracing::error!("the WAL checkpointer stopped; the writer checkpoints itself");
                    0
                });
                *batches += 1;
                if *batches >= CHECKPOINT_EVERY {
                    *batches = 0;
                    checkpoint(db).await;
                }
            }
        }
        if self.restart.load(Ordering::Relaxed) {
            // Tried again after the next batches while the checkpointer holds its lock or a
            // reader still uses old frames; given up after a few (asked again later).
            self.restart_tries += 1;
            if checkpoint(db).await || self.restart_tries >= RESTART_TRIES {
                self.restart.store(false, Ordering::Relaxed);
                self.restart_tries = 0;
            }
        }
    }
}

/// Copies the WAL back into the database file. PASSIVE never waits for readers; what it
/// could not copy is copied next time. True when it copied every frame (so that the next
/// write transaction starts the WAL from its beginning).
async fn checkpoint(db: &DatabaseConnection) -> bool {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "PRAGMA wal_checkpoint(PASSIVE)",
        ))
        .await;
    match row {
        Ok(Some(row)) => {
            let read = |i: usize| row.try_get_by_index::<i64>(i).ok();
            matches!((read(0), read(1), read(2)), (Some(0), Some(log), Some(copied)) if log == copied)
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, "WAL checkpoint failed");
            false
        }
    }
}

/// The checkpointer's loop: after the writer tells of a commit, waits [`CHECKPOINT_PACE`]
/// for more, then checkpoints; asks the writer for a checkpoint of its own when the WAL
/// is long (`long_wal`); stops when the writer does.
fn run_checkpoints(
    checkpointer: &super::sqlite_direct::Checkpointer,
    committed: &Receiver<()>,
    long_wal: &AtomicBool,
    broken: &Broken,
) {
    while committed.recv().is_ok() {
        std::thread::sleep(CHECKPOINT_PACE);
        // Commits told of while sleeping are covered by this checkpoint.
        while committed.try_recv().is_ok() {}
        if broken.error().is_some() {
            // Nothing more is copied into the database file (see `run`).
            continue;
        }
        match checkpointer.run() {
            Ok((frames, _)) if frames >= WAL_RESTART_FRAMES => {
                long_wal.store(true, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(failed) if failed.io => {
                // A sync or write of the checkpoint failed: as after a failed WAL sync, a
                // later checkpoint that succeeds says nothing about those pages.
                tracing::error!(error = %failed.error, "WAL checkpoint failed on I/O; the writer stops accepting writes");
                broken.set(&failed.error.to_string());
            }
            Err(failed) => {
                tracing::warn!(error = %failed.error, "WAL checkpoint failed; retried after the next commit");
            }
        }
    }
}

/// Runs the batch's replayable units one after the other without savepoints. If one fails,
/// everything they wrote is undone and they all run again, each in its own savepoint, so
/// that the failing one fails alone and the others' last run is what commits. A unit alone
/// in its batch runs once, bare: its failure rolls back the transaction. True when some
/// unit's final run failed.
async fn run_replayable(
    txn: &DatabaseTransaction,
    units: &mut [Box<dyn Replayable>],
    alone: bool,
) -> bool {
    if alone {
        let mut failed = false;
        for unit in units.iter_mut() {
            failed |= unit.run(txn, false).await;
        }
        return failed;
    }
    let mut bare = txn.execute_unprepared("SAVEPOINT replayable").await.is_ok();
    if bare {
        for unit in units.iter_mut() {
            if unit.run(txn, false).await {
                // Undo every replayable unit's writes, then run them all again carefully.
                bare = false;
                if let Err(e) = txn.execute_unprepared("ROLLBACK TO replayable").await {
                    // The transaction is broken: its commit fails and tells every unit.
                    tracing::error!(error = %e, "could not undo the replayable units");
                    return true;
                }
                break;
            }
        }
    }
    if bare {
        return false;
    }
    let mut failed = false;
    for unit in units.iter_mut() {
        failed |= unit.run(txn, true).await;
    }
    failed
}

fn stopped() -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(
        "the database writer is not running".into(),
    ))
}

/// Every unit of a batch that failed to start or commit gets its own copy of the cause, classified
/// like the original (unavailable database, or unexpected).
fn commit_failed(e: &DbErr) -> DbErr {
    if super::is_unavailable(e) {
        DbErr::Conn(RuntimeErr::Internal(format!("commit failed: {e}")))
    } else {
        DbErr::Custom(format!("commit failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    use secrecy::SecretString;

    use super::*;

    async fn sqlite(dir: &std::path::Path) -> (Settings, DatabaseConnection) {
        let mut settings = Settings::default();
        settings.database.url = Some(SecretString::from(format!(
            "sqlite://{}?mode=rwc",
            dir.join("writer.sqlite").display()
        )));
        let pool = super::super::connect(&settings).await.unwrap();
        for sql in [
            "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
            "CREATE TABLE row (n INTEGER PRIMARY KEY, parent INTEGER \
             REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)",
        ] {
            pool.execute_unprepared(sql).await.unwrap();
        }
        (settings, pool)
    }

    async fn insert(db: &impl ConnectionTrait, n: i64, parent: Option<i64>) -> Result<(), DbErr> {
        db.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "INSERT INTO row (n, parent) VALUES (?, ?)",
            [n.into(), parent.into()],
        ))
        .await
        .map(|_| ())
    }

    async fn stored(pool: &DatabaseConnection) -> Vec<i64> {
        pool.query_all_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "SELECT n FROM row ORDER BY n",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get_by_index::<i64>(0).unwrap())
        .collect()
    }

    async fn create_pages(pool: &DatabaseConnection) {
        pool.execute_unprepared("CREATE TABLE page (n INTEGER PRIMARY KEY, data TEXT)")
            .await
            .unwrap();
    }

    /// Stores row `n` of `bytes` bytes through the writer.
    async fn insert_page(writer: &Writer, n: i64, bytes: usize) {
        writer
            .write(move |db| {
                Box::pin(async move {
                    db.execute_raw(Statement::from_sql_and_values(
                        DatabaseBackend::Sqlite,
                        "INSERT INTO page (n, data) VALUES (?, ?)",
                        [n.into(), "x".repeat(bytes).into()],
                    ))
                    .await
                    .map(|_| ())
                })
            })
            .await
            .unwrap();
    }

    /// The checkpointer copies committed pages into the database file while the writer
    /// runs (the writer itself no longer checkpoints until it stops).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_copied_into_the_database_file_while_the_writer_runs() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = sqlite(dir.path()).await;
        create_pages(&pool).await;
        let file = dir.path().join("writer.sqlite");
        let before = std::fs::metadata(&file).unwrap().len();
        let writer = Writer::start(&settings, &pool).await.unwrap();
        for n in 0..64i64 {
            insert_page(&writer, n, 4096).await;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let grown = loop {
            let size = std::fs::metadata(&file).unwrap().len();
            if size >= before + 64 * 4096 || std::time::Instant::now() > deadline {
                break size - before;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert!(
            grown >= 64 * 4096,
            "database file grew by {grown} bytes only"
        );
    }

    /// Under continuous commits the WAL still starts again from its beginning: its file
    /// stays short instead of holding every frame written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_continuous_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = sqlite(dir.path()).await;
        create_pages(&pool).await;
        let writer = Writer::start(&settings, &pool).await.unwrap();
        let tasks = (0..16i64).map(|t| {
            let writer = writer.clone();
            tokio::spawn(async move {
                for i in 0..150i64 {
                    let n = t * 1000 + i;
                    insert_page(&writer, n, 1024).await;
                }
            })
        });
        for task in tasks.collect::<Vec<_>>() {
            task.await.unwrap();
        }
        let wal = std::fs::metadata(dir.path().join("writer.sqlite-wal"))
            .unwrap()
            .len();
        // 2400 rows of 1 KiB: ~2.4 MiB of table pages alone, each written again and again
        // (28 MB of WAL without the writer's restart checkpoints).
        assert!(wal < 8 * 1024 * 1024, "WAL file of {wal} bytes");
        let rows = pool
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "SELECT COUNT(*) FROM page",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(rows, 2400);
    }

    /// Many concurrent units end up in shared batches; a unit that fails after writing
    /// leaves nothing behind and does not take its batch-mates down.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_unit_undoes_only_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = sqlite(dir.path()).await;
        let writer = Writer::start(&settings, &pool).await.unwrap();
        assert!(matches!(writer.inner, Inner::Batched(..)));
        let units = (0..200i64).map(|n| {
            let writer = writer.clone();
            tokio::spawn(async move {
                writer
                    .write(move |db| {
                        Box::pin(async move {
                            insert(&db, n, None).await?;
                            if n % 5 == 0 {
                                // A unit's own transaction nests inside the batch's.
                                let txn = db.begin().await?;
                                insert(&txn, n + 1000, None).await?;
                                txn.commit().await?;
                            }
                            if n % 11 == 4 {
                                // Fails inside its own transaction, dropped uncommitted.
                                let txn = db.begin().await?;
                                insert(&txn, n + 2000, None).await?;
                                insert(&txn, n + 2000, None).await?;
                                txn.commit().await?;
                            }
                            if n % 7 == 3 {
                                // Fails after its first write.
                                insert(&db, n, None).await?;
                            }
                            Ok::<_, DbErr>(n)
                        })
                    })
                    .await
            })
        });
        let results = futures_util::future::join_all(units).await;
        let acknowledged: Vec<i64> = results
            .into_iter()
            .map(|r| r.unwrap())
            .filter_map(Result::ok)
            .collect();
        let expected: Vec<i64> = (0..200).filter(|n| n % 7 != 3 && n % 11 != 4).collect();
        let mut sorted = acknowledged.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, expected);
        let mut rows: Vec<i64> = expected
            .iter()
            .flat_map(|&n| [Some(n), (n % 5 == 0).then_some(n + 1000)])
            .flatten()
            .collect();
        rows.sort_unstable();
        assert_eq!(stored(&pool).await, rows);
    }

    /// Replayable units (`write_with`) run without savepoints; when one fails they are all
    /// undone and run again, each in a savepoint. Mixed with units that run once, exactly
    /// the failing units fail, alone, and only the others' writes are stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replayable_units_fail_alone_and_the_others_are_stored_once() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = sqlite(dir.path()).await;
        let writer = Writer::start(&settings, &pool).await.unwrap();
        // Hold the writer busy so that the units below queue up into large batches.
        let (release, hold) = oneshot::channel::<()>();
        let busy = {
            let writer = writer.clone();
            tokio::spawn(async move {
                writer
                    .write(move |_db| {
                        Box::pin(async move {
                            let _ = hold.await;
                            Ok::<_, DbErr>(())
                        })
                    })
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let runs = Arc::new(AtomicUsize::new(0));
        let units: Vec<_> = (0..120i64)
            .map(|n| {
                let (writer, runs) = (writer.clone(), runs.clone());
                tokio::spawn(async move {
                    if n % 4 == 0 {
                        // A unit that runs once, between the replayable ones.
                        return writer
                            .write(move |db| {
                                Box::pin(async move {
                                    insert(&db, n, None).await?;
                                    if n % 7 == 3 {
                                        insert(&db, n, None).await?;
                                    }
                                    Ok::<_, DbErr>(n)
                                })
                            })
                            .await;
                    }
                    writer
                        .write_with((n, runs), |(n, runs), db| {
                            Box::pin(async move {
                                runs.fetch_add(1, Ordering::SeqCst);
                                insert(&db, *n, None).await?;
                                if n % 5 == 1 {
                                    insert(&db, n + 1000, None).await?;
                                }
                                if n % 7 == 3 {
                                    // Fails after its first writes.
                                    insert(&db, *n, None).await?;
                                }
                                Ok::<_, DbErr>(*n)
                            })
                        })
                        .await
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        let results = futures_util::future::join_all(units).await;
        let mut acknowledged: Vec<i64> = results
            .into_iter()
            .map(|r| r.unwrap())
            .filter_map(Result::ok)
            .collect();
        acknowledged.sort_unstable();
        let expected: Vec<i64> = (0..120).filter(|n| n % 7 != 3).collect();
        assert_eq!(acknowledged, expected);
        let mut rows: Vec<i64> = expected
            .iter()
            .flat_map(|&n| [Some(n), (n % 4 != 0 && n % 5 == 1).then_some(n + 1000)])
            .flatten()
            .collect();
        rows.sort_unstable();
        assert_eq!(stored(&pool).await, rows);
        let replayable = (0..120).filter(|n| n % 4 != 0).count();
        assert!(
            runs.load(Ordering::SeqCst) > replayable,
            "the failing units made the others run again"
        );
    }

    /// One unit at a time (each alone in its batch, so without a savepoint): a failure
    /// still leaves nothing of that unit behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_unit_alone_in_its_batch_is_all_or_nothing_too() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = sqlite(dir.path()).await;
        let writer = Writer::start(&settings, &pool).await.unwrap();
        for n in 0..6i64 {
            let result = writer
                .write(move |db| {
                    Box::pin(async move {
                        insert(&db, n, None).await?;
                        if n % 2 == 1 {
                            insert(&db, n, None).await?;
                        }
                        Ok::<_, DbErr>(())
                    })
                })
                .await;
            assert_eq!(result.is_ok(), n % 2 == 0, "unit {n}: {result:?}");
        }
        assert_eq!(stored(&pool).await, vec![0, 2, 4]);
    }

    /// A batch whose commit fails (a deferred foreign key, checked only at COMMIT) answers
    /// an error to every unit in it: acknowledged and stored are the same set.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_acknowledges_nothing_of_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = sqlite(dir.path()).await;
        let writer = Writer::start(&settings, &pool).await.unwrap();
        let units = (0..100i64).map(|n| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let parent = (n == 50).then_some(999);
                let result = writer
                    .write(move |db| Box::pin(async move { insert(&db, n, parent).await }))
                    .await;
                (n, result)
            })
        });
        let mut acknowledged = Vec::new();
        for joined in futures_util::future::join_all(units).await {
            let (n, result) = joined.unwrap();
            match result {
                Ok(()) => acknowledged.push(n),
                Err(e) => assert!(e.to_string().contains("commit failed"), "{e}"),
            }
        }
        acknowledged.sort_unstable();
        assert!(!acknowledged.contains(&50));
        assert_eq!(stored(&pool).await, acknowledged);
    }

    /// A panicking unit fails its whole batch (nothing of it is committed) but the writer
    /// keeps serving the next ones.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_unit_does_not_stop_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = sqlite(dir.path()).await;
        let writer = Writer::start(&settings, &pool).await.unwrap();
        let err = writer
            .write(|db| {
                Box::pin(async move {
                    insert(&db, 1, None).await?;
                    if db.get_database_backend() == DatabaseBackend::Sqlite {
                        panic!("a bug in a unit");
                    }
                    Ok::<_, DbErr>(())
                })
            })
            .await
            .unwrap_err();
        assert!(super::super::is_unavailable(&err), "{err}");
        assert!(writer.is_running());
        writer
            .write(|db| Box::pin(async move { insert(&db, 2, None).await }))
            .await
            .unwrap();
        assert_eq!(stored(&pool).await, vec![2]);
    }

    /// A writer on a fresh database in `dir` (`synchronous = "full"`), and the histogram
    /// of its WAL syncs, as the service's metrics have one.
    async fn measured_writer(dir: &std::path::Path) -> (Writer, prometheus::Histogram) {
        let (settings, pool) = sqlite(dir).await;
        let syncs =
            prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("syncs", "syncs"))
                .unwrap();
        let writer = Writer::start_measured(&settings, &pool, Some(syncs.clone()))
            .await
            .unwrap();
        (writer, syncs)
    }

    /// WAL syncs so far, read from inside a unit: on the writer's thread, before its commit.
    fn synced_so_far(
        syncs: &prometheus::Histogram,
    ) -> impl for<'c> Fn(&'c (), DatabaseExecutor<'c>) -> UnitFuture<'c, u64> + Send + Sync + 'static
    {
        let syncs = syncs.clone();
        move |(), db| {
            let syncs = syncs.clone();
            Box::pin(async move {
                let _ = db;
                Ok(syncs.get_sample_count())
            })
        }
    }

    /// With `synchronous = "full"` the writer's own commits do not sync (its connection
    /// runs SQLite's NORMAL); a write is answered only after a sync of the WAL that began
    /// after its commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_acknowledged_write_is_answered_after_a_wal_sync() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, syncs) = measured_writer(dir.path()).await;
        let mode = writer
            .write(|db| {
                Box::pin(async move {
                    let row = db
                        .query_one_raw(Statement::from_string(
                            DatabaseBackend::Sqlite,
                            "PRAGMA synchronous",
                        ))
                        .await?
                        .unwrap();
                    row.try_get_by_index::<i64>(0)
                })
            })
            .await
            .unwrap();
        assert_eq!(mode, 1, "the writer's connection commits without syncing");
        for _ in 0..5 {
            let before = writer.write_with((), synced_so_far(&syncs)).await.unwrap();
            assert!(
                syncs.get_sample_count() > before,
                "answered before any sync followed its commit"
            );
        }
    }

    /// A record answered at its commit is synced all the same, within the pace, though
    /// nobody waits for it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_record_is_synced_though_nobody_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, syncs) = measured_writer(dir.path()).await;
        let before = writer.record_with((), synced_so_far(&syncs)).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while syncs.get_sample_count() == before && std::time::Instant::now() < deadline {
            tokio::time::sleep(SYNC_PACE).await;
        }
        assert!(
            syncs.get_sample_count() > before,
            "the record's commit was never synced"
        );
    }

    /// A record committed in the same batch as an acknowledged write (which it may have
    /// read) is answered only once that write is on disk.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_record_beside_an_unsynced_acknowledged_write_waits_for_its_sync() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, syncs) = measured_writer(dir.path()).await;
        for round in 0..3i64 {
            // Holds the writer so that the next two units share a batch.
            let busy = writer.clone();
            let busy = tokio::spawn(async move {
                busy.write(|_| {
                    Box::pin(async {
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        Ok::<_, DbErr>(())
                    })
                })
                .await
            });
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            let acknowledged = writer.clone();
            let acknowledged = tokio::spawn(async move {
                acknowledged
                    .write_with(round, |n, db| {
                        Box::pin(async move { insert(&db, *n, None).await })
                    })
                    .await
            });
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            let before = writer.record_with((), synced_so_far(&syncs)).await.unwrap();
            assert!(
                syncs.get_sample_count() > before,
                "the record was answered before the acknowledged write beside it was synced"
            );
            busy.await.unwrap().unwrap();
            acknowledged.await.unwrap().unwrap();
        }
    }

    /// A unit's reads take the writer's connection directly (in the batch's transaction);
    /// outside a batch, and on PostgreSQL or MySQL, nothing is redirected.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_units_reads_run_on_the_writers_connection() {
        use super::super::OnWriterThread;
        let dir = tempfile::tempdir().unwrap();
        let (settings, pool) = sqlite(dir.path()).await;
        let writer = Writer::start(&settings, &pool).await.unwrap();
        let direct = writer
            .write_with((), |(), db| {
                Box::pin(async move { Ok::<_, DbErr>(db.writer_connection().is_some()) })
            })
            .await
            .unwrap();
        assert!(direct, "a unit's executor was not redirected");
        assert!(pool.writer_connection().is_none());
        let postgres = sea_orm::MockDatabase::new(DatabaseBackend::Postgres).into_connection();
        let on_writer = writer
            .write_with(postgres, |postgres, _| {
                Box::pin(async move { Ok::<_, DbErr>(postgres.writer_connection().is_some()) })
            })
            .await
            .unwrap();
        assert!(!on_writer);
    }

    #[tokio::test]
    async fn a_writer_whose_thread_is_gone_answers_unavailable() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let writer = Writer {
            inner: Inner::Batched(tx, Broken::default()),
        };
        assert!(!writer.is_running());
        let err = writer
            .write(|_| Box::pin(async { Ok::<_, DbErr>(()) }))
            .await
            .unwrap_err();
        assert!(super::super::is_unavailable(&err));
    }
}

//! Images kept as evidence of a decision: in the row (default) or as files named by their
//! SHA-256 in a configured folder (the row then keeps the metadata and the file name).

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use entity::evidence;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Value,
};
use tokio::io::AsyncWriteExt;

use crate::configuration::EvidenceStorage;
use crate::domain::images::ImageFormat;
use crate::observe::RequestContext;

/// One image to keep.
pub struct NewEvidence<'a> {
    pub decision_id: i64,
    pub identity_verification_id: &'a str,
    pub decision_point: &'a str,
    pub process_id: &'a str,
    pub source: String,
    pub image_type: Option<String>,
    pub format: ImageFormat,
    pub sha256: &'a str,
    pub bytes: Vec<u8>,
}

/// Metadata of a kept image (no bytes).
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct EvidenceInfo {
    pub id: i64,
    pub decision_id: i64,
    pub decision_point: String,
    pub source: String,
    pub image_type: Option<String>,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub storage: String,
    pub created_at: DateTime<Utc>,
}

/// Writes the file first when the storage is a folder (content-addressed, written to a
/// temporary name and renamed, so a retry or a second instance writes the same file), then
/// the row. The row is part of the caller's transaction.
///
/// # Errors
/// Database or file-system errors.
pub async fn insert(
    db: &impl ConnectionTrait,
    storage: EvidenceStorage,
    folder: Option<&Path>,
    e: NewEvidence<'_>,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let size = i64::try_from(e.bytes.len()).unwrap_or(i64::MAX);
    let (data, file_name, storage_name) = match (storage, folder) {
        (EvidenceStorage::Off, _) => return Ok(()),
        (EvidenceStorage::Folder, Some(dir)) => {
            let name = format!("{}.{}", e.sha256, e.format.extension());
            write_file(dir, &name, &e.bytes).await?;
            (None, Some(name), "folder")
        }
        _ => (Some(e.bytes), None, "database"),
    };
    let model = evidence::ActiveModel {
        decision_id: Set(e.decision_id),
        identity_verification_id: Set(e.identity_verification_id.to_owned()),
        decision_point: Set(e.decision_point.to_owned()),
        process_id: Set(e.process_id.to_owned()),
        source: Set(e.source),
        image_type: Set(e.image_type),
        media_type: Set(e.format.media_type().to_owned()),
        size_bytes: Set(size),
        sha256: Set(e.sha256.to_owned()),
        storage: Set(storage_name.to_owned()),
        // Bound below: building the statement would copy the value.
        data: Set(None),
        file_name: Set(file_name),
        created_at: Set(now),
        correlation_id: Set(ctx.correlation_id.clone()),
        request_id: Set(ctx.request_id.clone()),
        ..Default::default()
    };
    let mut statement = evidence::Entity::insert(model).build(db.get_database_backend());
    if let Some(bytes) = data {
        // The image moves into the statement's one blob parameter: megabytes are not
        // copied while the statement is built.
        let slot = statement
            .values
            .as_mut()
            .and_then(|values| values.0.iter_mut().find(|v| matches!(v, Value::Bytes(_))))
            .context("the evidence statement has no blob parameter")?;
        *slot = Value::Bytes(Some(bytes));
    }
    db.execute_raw(statement)
        .await
        .context("Failed to store decision evidence")?;
    Ok(())
}

async fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let target = dir.join(name);
    if tokio::fs::try_exists(&target).await.unwrap_or(false) {
        return Ok(());
    }
    // Owner only (0700 folders, 0600 files on Unix): the images are identity documents.
    let mut folder = tokio::fs::DirBuilder::new();
    folder.recursive(true);
    #[cfg(unix)]
    folder.mode(0o700);
    folder
        .create(dir)
        .await
        .with_context(|| format!("Failed to create evidence folder {}", dir.display()))?;
    let temp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4()));
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let written = async {
        let mut file = options.open(&temp).await?;
        file.write_all(bytes).await?;
        file.flush().await
    };
    written
        .await
        .with_context(|| format!("Failed to write evidence file {}", temp.display()))?;
    tokio::fs::rename(&temp, &target)
        .await
        .with_context(|| format!("Failed to move evidence file to {}", target.display()))
}

/// The images kept for an identity verification (all its decisions), without their bytes.
///
/// # Errors
/// Database errors.
pub async fn list_for_verification(
    db: &impl ConnectionTrait,
    identity_verification_id: &str,
) -> Result<Vec<EvidenceInfo>, DbErr> {
    evidence::Entity::find()
        .select_only()
        .columns([
            evidence::Column::Id,
            evidence::Column::DecisionId,
            evidence::Column::DecisionPoint,
            evidence::Column::Source,
            evidence::Column::ImageType,
            evidence::Column::MediaType,
            evidence::Column::SizeBytes,
            evidence::Column::Sha256,
            evidence::Column::Storage,
            evidence::Column::CreatedAt,
        ])
        .filter(evidence::Column::IdentityVerificationId.eq(identity_verification_id))
        .order_by_asc(evidence::Column::Id)
        .into_model::<EvidenceInfo>()
        .all(db)
        .await
}

/// One kept image of `identity_verification_id` with its bytes (read from the folder when
/// stored there). `None` when no such image belongs to that verification: its bytes are
/// then never read.
///
/// # Errors
/// Database or file-system errors.
pub async fn load(
    db: &impl ConnectionTrait,
    id: i64,
    identity_verification_id: &str,
    folder: Option<&Path>,
) -> anyhow::Result<Option<(evidence::Model, Vec<u8>)>> {
    let Some(mut row) = evidence::Entity::find_by_id(id)
        .filter(evidence::Column::IdentityVerificationId.eq(identity_verification_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let bytes = match (row.data.take(), row.file_name.as_deref(), folder) {
        (Some(data), _, _) => data,
        (None, Some(name), Some(dir)) => tokio::fs::read(dir.join(name))
            .await
            .with_context(|| format!("Failed to read evidence file {name}"))?,
        _ => anyhow::bail!(
            "evidence {id} has no bytes here (stored in a folder that is not configured)"
        ),
    };
    Ok(Some((row, bytes)))
}

/// True when image `id` was deleted after its retention period (its row stays).
///
/// # Errors
/// Database errors.
pub async fn purged(db: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let purged_at: Option<Option<DateTime<Utc>>> = evidence::Entity::find_by_id(id)
        .select_only()
        .column(evidence::Column::PurgedAt)
        .into_tuple()
        .one(db)
        .await?;
    Ok(purged_at.flatten().is_some())
}

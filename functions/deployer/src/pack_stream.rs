//! Packing as a stream, inside the Lambda's limits: `shared::packing`
//! writes tar and gzip synchronously on a blocking thread; S3 objects come
//! in chunk by chunk through small channels, and the output goes up part
//! by part as a multipart upload. At most a few parts are in memory at any
//! time whatever the artifact's size, and nothing is written to `/tmp`.

use crate::packing::{PackError, PackJob};
use shared::aws::s3::ArtifactStore;
use shared::aws::{AwsError, AwsErrorKind};
use shared::packing::archive::Counts;
use shared::packing::layout::ObjectRef;
use std::io::{self, Read, Write};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// S3's smallest part (but the last) is 5 MiB; 8 MiB parts keep a 5 GB
/// archive at 640 parts, far below the 10,000-part limit.
const MIN_PART_SIZE: usize = 8 * 1024 * 1024;
const MAX_PARTS: u64 = 9_000;
/// Chunks of one object read ahead of the archive writer.
const READ_AHEAD: usize = 4;

/// What one archive took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub files: u64,
    pub bytes: u64,
    pub skipped: u64,
    pub parts: usize,
}

/// The part size for an archive of about `input_bytes` (gzip of already
/// compressed weights is no smaller than its input).
fn part_size(input_bytes: u64) -> usize {
    let needed = input_bytes.div_ceil(MAX_PARTS) + 1;
    usize::try_from(needed)
        .unwrap_or(usize::MAX)
        .max(MIN_PART_SIZE)
}

/// Writes `job`'s archive to its key. Nothing is visible under the key
/// until the upload completes; a failed one is aborted.
pub async fn write_to_s3(store: &ArtifactStore, job: &PackJob) -> Result<Written, PackError> {
    let mut upload = store.start_upload(&job.bucket, &job.key).await?;
    let inputs: u64 = job.layout.inputs.iter().map(input_size).sum::<u64>()
        + job.model.as_ref().map_or(0, |m| m.size);
    let (parts_tx, mut parts_rx) = mpsc::channel::<Vec<u8>>(1);
    let writer = {
        let (store, job, handle) = (store.clone(), job.clone(), Handle::current());
        tokio::task::spawn_blocking(move || write_archive(&handle, &store, &job, parts_tx, inputs))
    };
    let mut sent = Ok(());
    while let Some(part) = parts_rx.recv().await {
        if let Err(e) = store.upload_part(&mut upload, part).await {
            sent = Err(e);
            break;
        }
    }
    // A writer still sending now fails at once (its channel is closed).
    drop(parts_rx);
    let written = match writer.await {
        Ok(result) => result,
        Err(e) => Err(io::Error::other(format!("the archive writer stopped: {e}"))),
    };
    let failure = match (sent, written) {
        (Ok(()), Ok(counts)) => {
            let parts = upload.parts();
            store.complete_upload(upload).await?;
            return Ok(Written {
                files: counts.files,
                bytes: counts.bytes,
                skipped: counts.skipped,
                parts,
            });
        }
        // The upload's own error explains a writer that could not send.
        (Err(e), _) => PackError::Aws(e),
        (Ok(()), Err(e)) => from_io(e, &job.uri()),
    };
    if let Err(e) = store.abort_upload(&upload).await {
        tracing::warn!(error = %e, archive = %job.uri(), "multipart upload not aborted; the bucket's lifecycle rule removes it");
    }
    Err(failure)
}

fn input_size(input: &shared::packing::layout::Input) -> u64 {
    match input {
        shared::packing::layout::Input::File { object, .. }
        | shared::packing::layout::Input::Tarball { object, .. } => object.size,
    }
}

/// The blocking half: the archive, written into parts.
fn write_archive(
    handle: &Handle,
    store: &ArtifactStore,
    job: &PackJob,
    parts: mpsc::Sender<Vec<u8>>,
    inputs: u64,
) -> io::Result<Counts> {
    let out = PartWriter::new(parts, part_size(inputs));
    let mut opener =
        |o: &ObjectRef| -> io::Result<Box<dyn Read>> { Ok(Box::new(open(handle, store, o))) };
    let mut model = job.model.as_ref().map(|m| open(handle, store, m));
    let model_reader = model.as_mut().map(|m| m as &mut dyn Read);
    let (out, counts) =
        shared::packing::write_archive(out, &job.layout, model_reader, &mut opener)?;
    out.finish()?;
    Ok(counts)
}

/// The member names of a code `.tar.gz`, read as a stream.
pub async fn member_names(
    store: &ArtifactStore,
    object: &ObjectRef,
) -> Result<Vec<String>, PackError> {
    let (store, object, handle) = (store.clone(), object.clone(), Handle::current());
    let uri = object.uri();
    let result = tokio::task::spawn_blocking(move || {
        shared::packing::member_names(open(&handle, &store, &object))
    })
    .await
    .unwrap_or_else(|e| Err(io::Error::other(e.to_string())));
    result.map_err(|e| from_io(e, &uri))
}

/// An S3 read error travels inside the `io::Error` the archive code sees;
/// anything else is an input that is not the archive it claims to be.
fn from_io(e: io::Error, output: &str) -> PackError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<AwsError>())
    {
        Some(aws) => PackError::Aws(aws.clone()),
        None => PackError::Archive {
            output: output.to_string(),
            why: e.to_string(),
        },
    }
}

/// Opens `object` for reading on the blocking thread: a task on the
/// runtime fetches its chunks (pinned to the listed ETag) a few ahead.
fn open(handle: &Handle, store: &ArtifactStore, object: &ObjectRef) -> ChunkReader {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let (store, object) = (store.clone(), object.clone());
    handle.spawn(async move {
        let etag = Some(object.version.as_str()).filter(|v| !v.is_empty());
        let mut body = match store.stream(&object.bucket, &object.key, etag).await {
            Ok(Some(streamed)) => streamed.body,
            Ok(None) => {
                let _ = tx.send(Err(gone(&object))).await;
                return;
            }
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map(|c| c.to_vec()).map_err(|e| AwsError {
                operation: "GetObject",
                kind: AwsErrorKind::Transient,
                code: None,
                message: format!("reading {}: {e}", object.uri()),
            });
            let failed = chunk.is_err();
            // The reader is gone (the writer failed): stop reading.
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    ChunkReader {
        rx,
        chunk: Vec::new(),
        at: 0,
    }
}

fn gone(object: &ObjectRef) -> AwsError {
    AwsError {
        operation: "GetObject",
        kind: AwsErrorKind::Transient,
        code: Some("NoSuchKey".into()),
        message: format!("{} was deleted while it was being packed", object.uri()),
    }
}

/// `Read` over the chunks a fetching task sends.
struct ChunkReader {
    rx: mpsc::Receiver<Result<Vec<u8>, AwsError>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Some(Err(e)) => return Err(io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// `Write` that hands the uploader one part at a time.
struct PartWriter {
    parts: mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
    part_size: usize,
    sent: usize,
}

impl PartWriter {
    fn new(parts: mpsc::Sender<Vec<u8>>, part_size: usize) -> Self {
        PartWriter {
            parts,
            buf: Vec::with_capacity(part_size),
            part_size,
            sent: 0,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        let part = std::mem::replace(&mut self.buf, Vec::with_capacity(self.part_size));
        self.sent += 1;
        self.parts
            .blocking_send(part)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))
    }

    /// Sends the last part (an upload needs at least one).
    fn finish(mut self) -> io::Result<()> {
        if !self.buf.is_empty() || self.sent == 0 {
            self.send()?;
        }
        Ok(())
    }
}

impl Write for PartWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(self.part_size - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == self.part_size {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_stay_within_s3_limits() {
        assert_eq!(part_size(0), MIN_PART_SIZE);
        assert_eq!(part_size(1 << 30), MIN_PART_SIZE);
        // 100 GB: parts grow so there are at most MAX_PARTS of them.
        let big = 100_000_000_000u64;
        let size = part_size(big) as u64;
        assert!(big.div_ceil(size) <= MAX_PARTS, "{size}");
    }

    #[test]
    fn the_writer_sends_full_parts_then_the_rest() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut w = PartWriter::new(tx, 4);
        w.write_all(b"abcdefghij").unwrap();
        w.finish().unwrap();
        let mut parts = Vec::new();
        while let Ok(p) = rx.try_recv() {
            parts.push(p);
        }
        assert_eq!(
            parts,
            vec![b"abcd".to_vec(), b"efgh".to_vec(), b"ij".to_vec()]
        );
        let (tx, mut rx) = mpsc::channel(16);
        PartWriter::new(tx, 4).finish().unwrap();
        assert_eq!(rx.try_recv().unwrap(), Vec::<u8>::new(), "one empty part");
    }
}

//! Streaming `.tar.gz` writing: entries go from their reader through tar
//! and gzip to the output as they come, so memory stays flat whatever the
//! archive's size and nothing touches the disk.

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::collections::HashSet;
use std::io::{self, Read, Write};
use tar::{EntryType, Header};

/// Permissions of files and folders the pipeline adds.
const FILE_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o755;

/// What one streaming pass wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub files: u64,
    pub bytes: u64,
    /// Entries left out: replaced by the new code, or of a kind SageMaker
    /// cannot use (devices, fifos).
    pub skipped: u64,
}

/// A `.tar.gz` being written. Like the SDK's archives it has an entry for
/// every folder, created before the first entry inside it.
pub struct ArchiveWriter<W: Write> {
    builder: tar::Builder<GzEncoder<W>>,
    dirs: HashSet<String>,
    pub counts: Counts,
}

/// An archive member name as the SDK writes it: no leading `./` or `/`,
/// no trailing `/`; `None` for the archive's root.
pub fn normalize(name: &str) -> Option<String> {
    let mut n = name;
    loop {
        if let Some(rest) = n.strip_prefix("./") {
            n = rest;
        } else if let Some(rest) = n.strip_prefix('/') {
            n = rest;
        } else {
            break;
        }
    }
    let n = n.trim_end_matches('/');
    (!n.is_empty() && n != ".").then(|| n.to_string())
}

impl<W: Write> ArchiveWriter<W> {
    pub fn new(out: W) -> Self {
        let mut builder = tar::Builder::new(GzEncoder::new(out, Compression::default()));
        // Member names are written as given, with GNU long-name records
        // where needed; nothing is read from this machine's file system.
        builder.follow_symlinks(false);
        ArchiveWriter {
            builder,
            dirs: HashSet::new(),
            counts: Counts::default(),
        }
    }

    /// Adds a folder entry (and its parents) once.
    pub fn add_dir(&mut self, path: &str, mode: u32, mtime: u64) -> io::Result<()> {
        let Some(path) = normalize(path) else {
            return Ok(());
        };
        if self.dirs.contains(&path) {
            return Ok(());
        }
        self.parents(&path)?;
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Directory);
        header.set_mode(mode);
        header.set_mtime(mtime);
        header.set_size(0);
        self.builder
            .append_data(&mut header, format!("{path}/"), io::empty())?;
        self.dirs.insert(path);
        Ok(())
    }

    fn parents(&mut self, path: &str) -> io::Result<()> {
        if let Some((parent, _)) = path.rsplit_once('/') {
            if !self.dirs.contains(parent) {
                self.add_dir(parent, DIR_MODE, 0)?;
            }
        }
        Ok(())
    }

    /// Adds a regular file of `size` bytes read from `data`.
    pub fn add_file(&mut self, path: &str, size: u64, data: impl Read) -> io::Result<()> {
        self.add_file_with(path, size, FILE_MODE, 0, data)
    }

    fn add_file_with(
        &mut self,
        path: &str,
        size: u64,
        mode: u32,
        mtime: u64,
        data: impl Read,
    ) -> io::Result<()> {
        let path = normalize(path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a file needs a name"))?;
        self.parents(&path)?;
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Regular);
        header.set_mode(mode);
        header.set_mtime(mtime);
        header.set_size(size);
        // A reader that ends early (or runs long) must not produce an
        // archive whose sizes lie: read exactly `size` bytes or fail.
        let mut exact = ExactReader {
            inner: data,
            left: size,
        };
        self.builder.append_data(&mut header, &path, &mut exact)?;
        self.counts.files += 1;
        self.counts.bytes += size;
        Ok(())
    }

    /// Copies the members of another `.tar.gz`, streaming, each under
    /// `prefix` (`""` or ending with `/`), except those `skip` names.
    pub fn copy_archive(
        &mut self,
        tar_gz: impl Read,
        prefix: &str,
        skip: &dyn Fn(&str) -> bool,
    ) -> io::Result<()> {
        let mut archive = tar::Archive::new(GzDecoder::new(tar_gz));
        for entry in archive.entries()? {
            let mut entry = entry?;
            let raw = entry.path()?.to_string_lossy().into_owned();
            let Some(name) = normalize(&raw) else {
                continue;
            };
            let path = format!("{prefix}{name}");
            if skip(&path) {
                self.counts.skipped += 1;
                continue;
            }
            let header = entry.header();
            let mode = header.mode().unwrap_or(FILE_MODE);
            let mtime = header.mtime().unwrap_or(0);
            match header.entry_type() {
                EntryType::Directory => self.add_dir(&path, mode, mtime)?,
                EntryType::Regular | EntryType::Continuous => {
                    let size = entry.size();
                    self.add_file_with(&path, size, mode, mtime, &mut entry)?;
                }
                kind @ (EntryType::Symlink | EntryType::Link) => {
                    let target = entry
                        .link_name()?
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    self.parents(&path)?;
                    let mut header = Header::new_gnu();
                    header.set_entry_type(kind);
                    header.set_mode(mode);
                    header.set_mtime(mtime);
                    header.set_size(0);
                    self.builder.append_link(&mut header, &path, target)?;
                }
                _ => self.counts.skipped += 1,
            }
        }
        Ok(())
    }

    /// Ends the tar and the gzip stream; returns the output.
    pub fn finish(self) -> io::Result<W> {
        self.builder.into_inner()?.finish()
    }
}

/// Reads exactly `left` bytes from `inner`: an early end is an error, and
/// bytes beyond are never read.
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("source ended {} bytes early", self.left),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

//! Pre-flight checks (issue 13 item 5): what can never run serverless is
//! refused before anything is created, each with its own reason. Pure
//! rules here; the deployer reads the few bytes they need from S3.
//!
//! Limits, as SageMaker documents them for Serverless Inference (see
//! docs/deployer.md, "Pre-flight checks"):
//! - ephemeral disk about 5 GB: taken as 5 GiB, the larger reading, so
//!   no artifact that could fit is refused; the compressed download and
//!   the extracted files are both on it while the container starts;
//! - memory: the container's memory size (1024..6144 MB); a model whose
//!   uncompressed files exceed it can never be loaded;
//! - request payload at most 4 MB (4 x 1024 x 1024 bytes, the smoke
//!   tester's limit too).

/// Serverless ephemeral disk, in bytes (5 GiB; see the module comment).
pub const SERVERLESS_DISK_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// Serverless request payload limit, in bytes.
pub const MAX_PAYLOAD_BYTES: u64 = 4 * 1024 * 1024;
/// The gzip magic number every `model.tar.gz` starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Why a deployment cannot run serverless, found before creating anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreflightRefusal {
    #[error("the artifact inflates to at least {uncompressed}, more than the {memory_mb} MB of memory chosen: it can never load. Choose a larger memory_size_mb (at most 6144) or a smaller model")]
    InflatesPastMemory {
        uncompressed: InflatedSize,
        memory_mb: u32,
    },
    #[error("the artifact ({compressed} bytes compressed, at least {uncompressed} uncompressed) needs more than the {disk} bytes of serverless ephemeral disk to download and extract; use a smaller model or an instance-based endpoint")]
    InflatesPastDisk {
        compressed: u64,
        uncompressed: InflatedSize,
        disk: u64,
    },
    #[error("the smoke-test request s3://{bucket}/{key} is {size} bytes, over the serverless 4 MB payload limit ({MAX_PAYLOAD_BYTES} bytes); use a smaller request")]
    SmokeRequestTooLarge {
        bucket: String,
        key: String,
        size: u64,
    },
    /// The account's serverless quotas leave no room (issue 13 item 5).
    #[error("serverless quota: {0}")]
    ServerlessQuota(#[from] crate::quota::QuotaShortfall),
    #[error("image {image} is a GPU image; serverless endpoints run on CPU only (no GPUs): use the CPU image of the framework, or an instance-based endpoint")]
    GpuImage { image: String },
}

/// How many leading bytes of an artifact the deployer reads to parse its
/// gzip header (magic, flags, file name and comment, which gzip(1) and
/// Python's tarfile write as a few dozen bytes).
pub const GZIP_HEAD_BYTES: u64 = 1024;
/// How many trailing bytes it reads: the last member's CRC-32 and ISIZE.
pub const GZIP_TAIL_BYTES: u64 = 8;
/// ISIZE counts modulo 2^32.
const ISIZE_WRAP: u64 = 1 << 32;

/// A lower bound of an artifact's uncompressed size, with what it was
/// measured from (the refusals print it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InflatedSize {
    /// The bound, in bytes.
    pub at_least: u64,
    /// The gzip trailer's ISIZE (size modulo 2^32 of the last member).
    pub trailer: u64,
    /// Whole 4 GiB wraps added to `trailer`, from `deflate_bytes`.
    pub wraps: u64,
    /// The deflate data's size (the object less header and trailer).
    pub deflate_bytes: u64,
}

impl InflatedSize {
    /// The trailer alone, with no wraps inferred.
    pub fn from_trailer(trailer: u64) -> Self {
        Self {
            at_least: trailer,
            trailer,
            wraps: 0,
            deflate_bytes: 0,
        }
    }
}

impl std::fmt::Display for InflatedSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.wraps == 0 {
            return write!(f, "{} bytes (its gzip ISIZE trailer)", self.at_least);
        }
        write!(
            f,
            "{} bytes (its gzip ISIZE trailer says {} modulo 4 GiB, and its {} bytes of deflate data need at least {} x 4 GiB more: deflate never expands data by more than 13%)",
            self.at_least, self.trailer, self.deflate_bytes, self.wraps
        )
    }
}

/// The fewest bytes `deflate_bytes` of deflate data can inflate to, for
/// every deflate encoder in common use. zlib's most conservative
/// `deflateBound` (any level, window and memLevel: fixed-Huffman blocks
/// with 9-bit literals at memLevel 2) is `n + n/8 + n/256 + n/512 + 4`,
/// stored blocks of 127 bytes (memLevel 1) `n + n/32 + n/128 + n/2048 +
/// 7`; gzip(1), tar -z, pigz and Python's gzip/tarfile all use zlib, and
/// libdeflate and ISA-L stay within stored-block overhead. So
/// `deflate_bytes <= n * 579/512 + 7`. The tighter "5 bytes per 65,535"
/// of stored blocks does not hold for zlib (its stored blocks can be
/// far shorter), so it could overstate an incompressible artifact.
fn fewest_inflated_bytes(deflate_bytes: u64) -> u64 {
    deflate_bytes.saturating_sub(7).saturating_mul(512) / 579
}

/// The gzip header's length, if `head` holds all of it and it marks no
/// extra field. An extra field (FEXTRA) is how bgzip and the parallel
/// gzips that write one member per block (mgzip, ...) mark their members,
/// so a file with one may be multi-member, where the last ISIZE says
/// nothing of the others and no wrap can be inferred.
fn single_member_header_len(head: &[u8]) -> Option<u64> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    const DEFLATE: u8 = 8;
    let (&method, &flags) = (head.get(2)?, head.get(3)?);
    if method != DEFLATE || flags & FEXTRA != 0 || head.len() < 10 {
        return None;
    }
    let mut len = 10;
    for field in [FNAME, FCOMMENT] {
        if flags & field != 0 {
            // Zero-terminated; a header running past `head` is not judged.
            len += head.get(len..)?.iter().position(|&b| b == 0)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        len += 2;
    }
    u64::try_from(len).ok()
}

/// A lower bound of a gzip artifact's uncompressed size from its first
/// bytes (`head`, up to [`GZIP_HEAD_BYTES`]), its last 8 (`tail`) and its
/// size (`compressed`); `None` when it is not gzip.
///
/// ISIZE, the last 4 bytes, is the size modulo 2^32 of the *last* member.
/// For a single-member file (gzip(1), tar -z, pigz including
/// `--independent`, Python's tarfile as the SageMaker SDK packs) the size
/// is ISIZE + k x 4 GiB, and k is at least the fewest wraps that let its
/// deflate data inflate to `fewest_inflated_bytes`: so an artifact of
/// 4 GiB + 1 MiB reads as that, not as 1 MiB. The wraps are inferred only
/// when the header shows a single member could be all there is; the
/// bound is then ISIZE alone (never an overstatement, but blind past
/// 4 GiB) for: a header with an extra field (bgzip and other
/// multi-member writers, see `single_member_header_len`), a header
/// longer than `head`, and a trailer of 8 zero bytes (a real CRC-32 and
/// ISIZE are both 0 only for empty data, so this is padding after the
/// last member, as tape blocking leaves, and the trailer is unknown).
/// One input can still be overstated: members concatenated without
/// extra fields (`cat a.gz b.gz`), whose last member is shorter than the
/// deflate data implies; a tar archive split that way is not one tar
/// archive SageMaker can extract, so it is not a realistic artifact.
pub fn gzip_inflated_lower_bound(
    head: &[u8],
    tail: &[u8],
    compressed: u64,
) -> Option<InflatedSize> {
    if !head.starts_with(&GZIP_MAGIC) || tail.len() < 8 {
        return None;
    }
    let trailer: [u8; 8] = tail[tail.len() - 8..].try_into().ok()?;
    let isize_bytes: [u8; 4] = trailer[4..].try_into().ok()?;
    let isize = u64::from(u32::from_le_bytes(isize_bytes));
    let padded = trailer.iter().all(|&b| b == 0);
    let Some(header_len) = single_member_header_len(head).filter(|_| !padded) else {
        return Some(InflatedSize::from_trailer(isize));
    };
    let deflate_bytes = compressed.saturating_sub(header_len + 8);
    let fewest = fewest_inflated_bytes(deflate_bytes);
    let wraps = fewest.saturating_sub(isize).div_ceil(ISIZE_WRAP);
    Some(InflatedSize {
        at_least: isize.saturating_add(wraps.saturating_mul(ISIZE_WRAP)),
        trailer: isize,
        wraps,
        deflate_bytes,
    })
}

/// The artifact against the memory size and the ephemeral disk.
pub fn check_artifact(
    compressed: u64,
    uncompressed_at_least: Option<InflatedSize>,
    memory_mb: u32,
) -> Result<(), PreflightRefusal> {
    let Some(uncompressed) = uncompressed_at_least else {
        return Ok(());
    };
    if uncompressed.at_least > u64::from(memory_mb) * 1024 * 1024 {
        return Err(PreflightRefusal::InflatesPastMemory {
            uncompressed,
            memory_mb,
        });
    }
    if compressed.saturating_add(uncompressed.at_least) > SERVERLESS_DISK_BYTES {
        return Err(PreflightRefusal::InflatesPastDisk {
            compressed,
            uncompressed,
            disk: SERVERLESS_DISK_BYTES,
        });
    }
    Ok(())
}

/// GPU images by their tag, as the AWS Deep Learning Containers name them
/// (`...:2.1.0-gpu-py310`, `...-cu121-ubuntu20.04`).
pub fn check_image(image: &str) -> Result<(), PreflightRefusal> {
    let tag = image
        .rsplit('/')
        .next()
        .and_then(|last| last.split_once(':'))
        .map(|(_, tag)| tag)
        .unwrap_or_default();
    let gpu = tag.split(['-', '_']).any(|part| {
        part.eq_ignore_ascii_case("gpu")
            || part
                .strip_prefix("cu")
                .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
    });
    if gpu {
        return Err(PreflightRefusal::GpuImage {
            image: image.to_string(),
        });
    }
    Ok(())
}

/// The smoke-test request body stored in S3 against the payload limit.
pub fn check_smoke_body(bucket: &str, key: &str, size: u64) -> Result<(), PreflightRefusal> {
    if size > MAX_PAYLOAD_BYTES {
        return Err(PreflightRefusal::SmokeRequestTooLarge {
            bucket: bucket.to_string(),
            key: key.to_string(),
            size,
        });
    }
    Ok(())
}

/// deploy.json fields a user may carry over from an instance-based
/// deployment (the SDK's names) that serverless endpoints do not support,
/// with the feature's name for the refusal.
pub fn serverless_excluded(field: &str) -> Option<&'static str> {
    match field {
        "vpc_config" | "vpc" | "subnets" | "security_group_ids" => Some("VPC configuration"),
        "enable_network_isolation" | "network_isolation" => Some("network isolation"),
        "data_capture_config" | "data_capture" => Some("data capture (Model Monitor)"),
        "instance_type" | "accelerator_type" => Some("instances or accelerators (GPU)"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gzip header with `flags`, `fields` after it, `deflate_bytes` of
    /// (unread) deflate data and a trailer saying `isize`.
    fn gzip_file(flags: u8, fields: &[u8], deflate_bytes: usize, isize: u32) -> Vec<u8> {
        let mut bytes = vec![0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 0xff];
        bytes.extend_from_slice(fields);
        bytes.resize(bytes.len() + deflate_bytes, 0x55);
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        bytes.extend_from_slice(&isize.to_le_bytes());
        bytes
    }

    fn bound_of(file: &[u8]) -> Option<InflatedSize> {
        let head = &file[..file.len().min(GZIP_HEAD_BYTES as usize)];
        let tail = &file[file.len().saturating_sub(GZIP_TAIL_BYTES as usize)..];
        gzip_inflated_lower_bound(head, tail, file.len() as u64)
    }

    #[test]
    fn the_isize_trailer_is_read_little_endian_from_a_gzip_file_only() {
        let file = gzip_file(0, &[], 0, 0xc000_0000);
        assert_eq!(bound_of(&file).map(|b| b.at_least), Some(0xc000_0000));
        let mut zip = file.clone();
        zip[..2].copy_from_slice(b"PK");
        assert_eq!(bound_of(&zip), None);
        assert_eq!(gzip_inflated_lower_bound(&GZIP_MAGIC, &[1, 2], 10), None);
    }

    #[test]
    fn an_isize_that_wrapped_past_4_gib_is_told_by_the_deflate_size() {
        // 4 MiB of deflate data inflate to at least ~3.6 MiB, so a 1 MiB
        // trailer wrapped once: at least 4 GiB + 1 MiB.
        let bound = bound_of(&gzip_file(0, &[], 4 << 20, 1 << 20)).expect("gzip");
        assert_eq!(bound.at_least, (4 << 30) + (1 << 20));
        assert_eq!((bound.trailer, bound.wraps), (1 << 20, 1));
        let told = bound.to_string();
        assert!(
            told.contains("4296015872") && told.contains("1048576"),
            "{told}"
        );
        // A file name and comment are header, not deflate data.
        let named = gzip_file(0x18, b"model.tar\0comment\0", 4 << 20, 1 << 20);
        assert_eq!(bound_of(&named).map(|b| b.deflate_bytes), Some(4 << 20));
        // A 9 GiB artifact's 5 GiB of deflate data: two wraps.
        let deflate: u64 = 5 << 30;
        let fewest = fewest_inflated_bytes(deflate);
        assert!(fewest > 4 << 30 && fewest < 8 << 30);
    }

    #[test]
    fn no_wraps_are_inferred_where_the_last_member_may_not_be_all() {
        // bgzip-style extra field: maybe many members.
        let extra = gzip_file(0x04, &[6, 0, b'B', b'C', 2, 0, 0, 0], 4 << 20, 1 << 20);
        assert_eq!(bound_of(&extra), Some(InflatedSize::from_trailer(1 << 20)));
        // A file name running past the bytes read.
        let mut long_name = vec![b'n'; GZIP_HEAD_BYTES as usize];
        long_name.push(0);
        let named = gzip_file(0x08, &long_name, 4 << 20, 1 << 20);
        assert_eq!(bound_of(&named), Some(InflatedSize::from_trailer(1 << 20)));
        // Zero padding after the last member: the trailer is unknown.
        let mut padded = gzip_file(0, &[], 4 << 20, 1 << 20);
        padded.extend_from_slice(&[0; 512]);
        assert_eq!(bound_of(&padded), Some(InflatedSize::from_trailer(0)));
    }

    /// Real gzip files of every level, incompressible and compressible,
    /// are bounded by exactly their size: the bound never overstates.
    #[test]
    fn real_gzip_files_are_bounded_by_their_true_size() {
        use std::io::Write;
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let random: Vec<u8> = (0..(1 << 20))
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        let text = b"weights 0.125 0.25 0.5\n".repeat(40_000);
        for data in [&random[..], &text[..], &[][..]] {
            for level in 0..=9 {
                let mut encoder = flate2::GzBuilder::new()
                    .filename("model.tar")
                    .write(Vec::new(), flate2::Compression::new(level));
                encoder.write_all(data).expect("in memory");
                let file = encoder.finish().expect("in memory");
                let bound = bound_of(&file).expect("gzip");
                assert_eq!(bound.at_least, data.len() as u64, "level {level}");
                assert_eq!(bound.wraps, 0);
            }
        }
    }

    #[test]
    fn memory_then_disk_limits() {
        let mb = 1024 * 1024;
        let at_least = |bytes| Some(InflatedSize::from_trailer(bytes));
        assert_eq!(check_artifact(10, at_least(2048 * mb), 2048), Ok(()));
        assert!(matches!(
            check_artifact(10, at_least(2048 * mb + 1), 2048),
            Err(PreflightRefusal::InflatesPastMemory { .. })
        ));
        // 6 GB of memory, but 2 GiB download + 3.5 GiB extracted > 5 GiB disk.
        assert!(matches!(
            check_artifact(2048 * mb, at_least(3584 * mb), 6144),
            Err(PreflightRefusal::InflatesPastDisk { .. })
        ));
        assert_eq!(check_artifact(u64::MAX, None, 1024), Ok(()));
    }

    #[test]
    fn gpu_images_are_told_by_their_tag() {
        for gpu in [
            "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1.0-gpu-py310",
            "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:2.1-transformers4.37-gpu-py310-cu118-ubuntu20.04",
            "1.dkr.ecr.us-east-1.amazonaws.com/x:1-cu121",
        ] {
            assert!(check_image(gpu).is_err(), "{gpu}");
        }
        for cpu in [
            "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
            "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1.0-cpu-py310",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-gpu-tools:1",
            "localhost:5000/model",
        ] {
            assert_eq!(check_image(cpu), Ok(()), "{cpu}");
        }
    }

    #[test]
    fn the_payload_limit_is_inclusive() {
        assert_eq!(check_smoke_body("b", "k", MAX_PAYLOAD_BYTES), Ok(()));
        assert!(check_smoke_body("b", "k", MAX_PAYLOAD_BYTES + 1).is_err());
    }
}

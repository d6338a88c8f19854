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
    #[error("the artifact inflates to at least {uncompressed} bytes (its gzip ISIZE trailer), more than the {memory_mb} MB of memory chosen: it can never load. Choose a larger memory_size_mb (at most 6144) or a smaller model")]
    InflatesPastMemory { uncompressed: u64, memory_mb: u32 },
    #[error("the artifact ({compressed} bytes compressed, at least {uncompressed} bytes uncompressed by its gzip ISIZE trailer) needs more than the {disk} bytes of serverless ephemeral disk to download and extract; use a smaller model or an instance-based endpoint")]
    InflatesPastDisk {
        compressed: u64,
        uncompressed: u64,
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

/// The uncompressed size a gzip file's last 4 bytes (ISIZE, little
/// endian) record: the size modulo 2^32 of its *last* member. The true
/// total is this plus whole multiples of 4 GiB, plus any earlier members,
/// so it is a lower bound that never overstates: a refusal on it is never
/// wrong, though an artifact over 4 GiB may pass unnoticed here.
pub fn gzip_isize_lower_bound(head: &[u8], tail: &[u8]) -> Option<u64> {
    if !head.starts_with(&GZIP_MAGIC) || tail.len() < 4 {
        return None;
    }
    let last: [u8; 4] = tail[tail.len() - 4..].try_into().ok()?;
    Some(u64::from(u32::from_le_bytes(last)))
}

/// The artifact against the memory size and the ephemeral disk.
pub fn check_artifact(
    compressed: u64,
    uncompressed_at_least: Option<u64>,
    memory_mb: u32,
) -> Result<(), PreflightRefusal> {
    let Some(uncompressed) = uncompressed_at_least else {
        return Ok(());
    };
    if uncompressed > u64::from(memory_mb) * 1024 * 1024 {
        return Err(PreflightRefusal::InflatesPastMemory {
            uncompressed,
            memory_mb,
        });
    }
    if compressed.saturating_add(uncompressed) > SERVERLESS_DISK_BYTES {
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

    #[test]
    fn the_isize_trailer_is_read_little_endian_from_a_gzip_file_only() {
        let tail = [0xaa, 0xbb, 0x00, 0x00, 0x00, 0xc0];
        assert_eq!(
            gzip_isize_lower_bound(&GZIP_MAGIC, &tail),
            Some(0xc000_0000)
        );
        assert_eq!(gzip_isize_lower_bound(b"PK", &tail), None);
        assert_eq!(gzip_isize_lower_bound(&GZIP_MAGIC, &[1, 2]), None);
    }

    #[test]
    fn memory_then_disk_limits() {
        let mb = 1024 * 1024;
        assert_eq!(check_artifact(10, Some(2048 * mb), 2048), Ok(()));
        assert!(matches!(
            check_artifact(10, Some(2048 * mb + 1), 2048),
            Err(PreflightRefusal::InflatesPastMemory { .. })
        ));
        // 6 GB of memory, but 2 GiB download + 3.5 GiB extracted > 5 GiB disk.
        assert!(matches!(
            check_artifact(2048 * mb, Some(3584 * mb), 6144),
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

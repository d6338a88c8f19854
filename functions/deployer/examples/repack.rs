//! The deployer's repack step alone, for scripts/bench_repack.py: streams
//! `s3://<bucket>/<artifact>` and the code folder beside it into a
//! PyTorch-style `model.tar.gz` with `code/` at `s3://<bucket>/<output>`,
//! through the same code a deploy runs (`pack_stream::write_to_s3`), and
//! prints what it took as JSON, peak RSS (VmHWM) included.
//!
//! It exists because the deployer itself never repacks an artifact too
//! large for serverless: its pre-flight refuses one whose download and
//! extraction cannot fit the 5 GiB ephemeral disk before anything is read,
//! so a 5 GiB repack can only be measured here. Not deployed.
//!
//!     cargo run --example repack -- <bucket> <folder>/model.tar.gz <output key>

use deployer::packing::PackJob;
use shared::aws::s3::ArtifactStore;
use shared::packing::layout::{layout, Listed, ListedCode, ObjectRef};
use shared::packing::mode_for;
use shared::settings::{CodeLocation, InferenceCode};

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bucket, artifact, output] = args.as_slice() else {
        return Err("usage: repack <bucket> <folder>/model.tar.gz <output key>".into());
    };
    let store = ArtifactStore::new(aws_sdk_s3::Client::new(
        &shared::aws::load_sdk_config().await,
    ));
    let head = store
        .head(bucket, artifact, None)
        .await?
        .ok_or("no artifact")?;
    let folder = shared::s3_event::folder_of(artifact);
    let code_prefix = format!("{folder}code/");
    let objects = store
        .list_folder(bucket, &code_prefix)
        .await?
        .into_iter()
        .map(|o| ObjectRef {
            bucket: bucket.clone(),
            key: o.key,
            size: o.size,
            version: o.etag,
        })
        .collect();
    let code = InferenceCode {
        entry_point: "inference.py".into(),
        source_dir: Some(CodeLocation::Beside {
            prefix: "code/".into(),
        }),
        dependencies: Vec::new(),
    };
    let listed = ListedCode {
        entry_file: None,
        source_dir: Some(Listed::Folder {
            uri: format!("s3://{bucket}/{code_prefix}"),
            prefix: code_prefix,
            objects,
        }),
        dependencies: Vec::new(),
    };
    let job = PackJob {
        layout: layout(mode_for("pytorch", "2.1"), &code, &listed)?,
        bucket: bucket.clone(),
        key: output.clone(),
        model: Some(ObjectRef {
            bucket: bucket.clone(),
            key: artifact.clone(),
            size: u64::try_from(head.size).unwrap_or(0),
            version: head.etag.unwrap_or_default(),
        }),
    };
    let started = std::time::Instant::now();
    let written = deployer::pack_stream::write_to_s3(&store, &job).await?;
    println!(
        "{}",
        serde_json::json!({
            "files": written.files,
            "bytes": written.bytes,
            "parts": written.parts,
            "seconds": started.elapsed().as_secs_f64(),
            "peak_rss_kb": peak_rss_kb(),
        })
    );
    Ok(())
}

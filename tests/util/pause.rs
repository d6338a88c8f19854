//! Pause injection (tests/emulator/pause_points.py): one AWS call of one
//! caller is held before it reaches AWS until the test lets it go on. The
//! code under test is then as slow at that step as the test wants (a long
//! repack), and the test acts meanwhile: another delivery, time passing.

use crate::{emulator_delete, emulator_get, emulator_post};
use serde_json::json;

/// A pause armed for one caller's next call of one operation; released
/// when dropped.
pub struct PausePoint {
    caller: String,
}

impl PausePoint {
    /// Holds `caller`'s next `operation` call (`service:Operation`, e.g.
    /// `s3:CreateMultipartUpload`); its other calls go through.
    pub fn before(caller: &str, operation: &str) -> Self {
        emulator_post(
            "/_emulator/pause",
            &json!({ "caller": caller, "operation": operation }),
        );
        PausePoint {
            caller: caller.to_string(),
        }
    }

    /// Waits (without stalling the runtime) until the call is held;
    /// panics if it is not within a minute.
    pub async fn held(&self) {
        let caller = self.caller.clone();
        let view = tokio::task::spawn_blocking(move || {
            emulator_get(&format!("/_emulator/pause/{caller}?wait=60"))
        })
        .await
        .expect("pause watcher");
        assert_eq!(view["held"], true, "the paused call never came: {view}");
    }

    /// Lets the held call go on to AWS.
    pub fn release(&self) {
        emulator_delete(&format!("/_emulator/pause/{}", self.caller));
    }
}

impl Drop for PausePoint {
    fn drop(&mut self) {
        self.release();
    }
}

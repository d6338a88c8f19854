//! The states of a migration, as recorded in the tag
//! `pipeline:migration-state` on the endpoint that carries the migration at
//! that point. The tag values are the wire format: `as_str` and `parse`
//! round-trip them exactly.
//!
//! | state | on | meaning |
//! |---|---|---|
//! | `canary` | original | canary being created / smoke-tested |
//! | `awaiting-switch` | original + canary | canary passed, callers told to switch; draining |
//! | `retiring-original` | canary | original drained; being deleted |
//! | `replacing` | canary (+ original) | recreate: original being deleted and recreated |
//! | `replacement` | new endpoint | recreate: same name, serverless, not yet InService |
//! | `completed` | canary / new endpoint | done |
//! | `failed` | original | canary failed (reason in `pipeline:migration-failure`); not retried |
//! | `reverted` | original | put back on its persistent config; not migrated again |

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationState {
    Canary,
    AwaitingSwitch,
    RetiringOriginal,
    Replacing,
    Replacement,
    Completed,
    Failed,
    Reverted,
}

impl MigrationState {
    pub const ALL: [MigrationState; 8] = [
        MigrationState::Canary,
        MigrationState::AwaitingSwitch,
        MigrationState::RetiringOriginal,
        MigrationState::Replacing,
        MigrationState::Replacement,
        MigrationState::Completed,
        MigrationState::Failed,
        MigrationState::Reverted,
    ];

    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationState::Canary => "canary",
            MigrationState::AwaitingSwitch => "awaiting-switch",
            MigrationState::RetiringOriginal => "retiring-original",
            MigrationState::Replacing => "replacing",
            MigrationState::Replacement => "replacement",
            MigrationState::Completed => "completed",
            MigrationState::Failed => "failed",
            MigrationState::Reverted => "reverted",
        }
    }

    /// The state a tag value names; `None` for a value this version does
    /// not know (such an endpoint is left alone).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_values_round_trip_and_stay_as_before() {
        let values: Vec<&str> = MigrationState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            values,
            [
                "canary",
                "awaiting-switch",
                "retiring-original",
                "replacing",
                "replacement",
                "completed",
                "failed",
                "reverted"
            ]
        );
        for state in MigrationState::ALL {
            assert_eq!(MigrationState::parse(state.as_str()), Some(state));
        }
        assert_eq!(MigrationState::parse("Canary"), None);
        assert_eq!(MigrationState::parse(""), None);
    }
}

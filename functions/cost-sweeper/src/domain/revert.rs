//! A revert on request: the step that puts a migrated (or migrating)
//! endpoint back on its kept persistent config.

use crate::domain::fleet::migration_tags as tags;
use crate::domain::migration::Group;
use crate::domain::state::MigrationState;
use crate::domain::steps::{canary_ref, Action};

/// The step that puts `group` back on its persistent config (direct
/// invocation), or why there is none.
pub fn revert(group: &Group) -> Result<Action, String> {
    let canary = group
        .canary
        .map(|c| canary_ref(c, group.canary_config_in_use_elsewhere));
    let persistent_from_canary = group.canary.and_then(|c| c.tag(tags::PERSISTENT_CONFIG));
    match group.original {
        Some(original)
            if original.is_serverless() && original.tag(tags::MIGRATION_OF) == Some(group.name) =>
        {
            match original.tag(tags::PERSISTENT_CONFIG) {
                Some(persistent) => Ok(Action::RevertInPlace {
                    name: original.name.clone(),
                    arn: original.arn.clone(),
                    persistent_config: persistent.to_string(),
                }),
                None => Err(format!(
                    "{} has no {} tag: nothing to revert to",
                    original.name,
                    tags::PERSISTENT_CONFIG
                )),
            }
        }
        Some(original) if original.is_serverless() => {
            Err(format!("{} was not migrated by the sweeper", original.name))
        }
        Some(original) => match original.migration_state() {
            Some(
                MigrationState::Canary
                | MigrationState::AwaitingSwitch
                | MigrationState::Failed
                | MigrationState::Replacing,
            ) => {
                Ok(Action::Abort {
                    original_arn: original.arn.clone(),
                    // Once callers were told to switch, the canary may be in use: keep it.
                    canary: canary.filter(|_| {
                        original.migration_state() != Some(MigrationState::AwaitingSwitch)
                    }),
                })
            }
            Some(MigrationState::Reverted) => Err(format!("{} is already reverted", original.name)),
            _ => Err(format!(
                "{} is not being migrated: it already runs its persistent config",
                original.name
            )),
        },
        None => match persistent_from_canary {
            Some(persistent) => Ok(Action::RecreateOriginal {
                name: group.name.to_string(),
                persistent_config: persistent.to_string(),
                canary_name: group.canary.map(|c| c.name.clone()),
            }),
            None => Err(format!(
                "no endpoint {} and no migration record to revert",
                group.name
            )),
        },
    }
}

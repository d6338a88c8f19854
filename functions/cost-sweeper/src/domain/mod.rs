//! Pure decisions: what the fleet looks like, what it costs, which
//! endpoints may move, and the next step of each migration. No I/O.

pub mod access;
pub(crate) mod eligibility;
pub(crate) mod fleet;
pub(crate) mod instances;
pub(crate) mod migration;
pub(crate) mod plan;
pub mod prices;
pub mod pricing;
pub(crate) mod reasons;
pub(crate) mod recheck;
pub(crate) mod revert;
pub mod rows;
pub(crate) mod state;
pub(crate) mod steps;

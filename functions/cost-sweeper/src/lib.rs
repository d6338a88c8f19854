//! The cost sweeper: finds idle instance-based SageMaker endpoints, prices
//! them against serverless, and migrates them one level-triggered step per
//! run (see `domain::migration` for the state machine). Dry run by default.
//!
//! Layers, each depending only on the ones below it:
//! - `sweeper`: one invocation end to end (observe, plan, apply, report).
//! - `aws`: reads the fleet and its traffic, applies steps (through
//!   `shared::aws`).
//! - `report`: what a sweep says (JSON, Markdown, EMF); `html_report` and
//!   `charts`: the HTML report with its SVG charts.
//! - `domain`: pure decisions from observed state, no I/O.
//! - `config`: the settings, read once from the environment.

pub(crate) mod aws;
pub(crate) mod charts;
pub mod config;
pub mod domain;
pub mod html_report;
pub(crate) mod publish;
pub mod report;
pub mod sweeper;
#[cfg(test)]
mod test_support;

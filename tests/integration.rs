//! End-to-end tests against the local AWS emulator (moto server extended by
//! tests/emulator/launch.py to behave like AWS), through the real SDK over
//! HTTP. Run them with the README's test command, which starts the emulator
//! and enables this target (`--features emulator`; docs/testing.md).

mod binaries;
mod cost_sweeper;
mod deployer;
mod forbidden;
mod ledger;
mod smoke_tester;

//! End-to-end tests against the local AWS emulator (moto server extended by
//! tests/emulator/launch.py to behave like AWS), through the real SDK over
//! HTTP. Run them with the README's test command, which starts the emulator.

mod binaries;
mod cost_sweeper;
mod deployer;
mod smoke_tester;
mod template;

//! End-to-end tests of the `dataport` CLI (issue 11): the real `dataport` binary against real
//! `dataportd` processes on loopback, with the browser step of the sign-in played by the test.
//!
//! `dataportd` is taken from the directory of the `dataport` binary (target/debug/dataportd) or
//! from `DATAPORTD`; build it first with `cargo build -p dataport-server`. One binary with
//! modules, because every file in `tests/` is a separate binary to link.

mod deps;
mod errors;
mod harness;
mod hostile;
mod incremental;
mod login;
mod progress;
mod pull;
mod resume;

//! The wire contract of Google's Data Portability API as dataport speaks it.
//!
//! Serde types only: no I/O, no async. The server renders these, the CLI parses them, and the
//! snapshot tests pin their JSON so that any change to the contract shows up as a diff.
#![forbid(unsafe_code)]

pub mod proto_json;
pub mod status;
pub mod timestamp;
pub mod wire;

pub use status::{Code, Detail, FieldViolation, Status};
pub use timestamp::Timestamp;
pub use wire::*;

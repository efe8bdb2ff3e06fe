//! The `dataport` client: sign in (OAuth with PKCE through a loopback redirect), call the Data
//! Portability API with a refreshed token, and pull archives — resumable, verified, extracted
//! safely. The binary (`main.rs`) is the command line over these modules.
//!
//! Depends on the wire types only (`dataport-types`), never on the server's crates.
#![forbid(unsafe_code)]

pub mod api;
pub mod download;
pub mod error;
pub mod extract;
pub mod job;
pub mod oauth;
pub mod output;
pub mod profile;
pub mod pull;

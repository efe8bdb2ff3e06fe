//! Integration tests: the real server in-process on 127.0.0.1:0 with a temporary SQLite file and
//! blob directory, or a fresh PostgreSQL database and S3 prefix (see [`backend`]), driven over
//! HTTP. One binary with modules, because every file in `tests/` is a separate binary to link.

mod account;
mod activity;
mod backend;
mod bodies;
mod config;
mod download;
mod durability;
mod errors;
mod harness;
mod health;
mod jobs;
mod limits;
mod oauth;
mod operator;
mod refresh;
mod routing;
mod scaleout;
mod security;
mod sources;
mod success;

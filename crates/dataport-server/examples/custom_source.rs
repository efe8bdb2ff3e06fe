//! A data source written in Rust (`kind = "custom"` in the catalogue, SPEC §5.1), served by a
//! build of `dataportd` of your own.
//!
//! Use this when your data is not a SQL query, a paged HTTP endpoint or a file tree: implement
//! [`DataSource`] (or [`AsyncDataSource`] for async work, wrapped in [`OnRuntime`]), register it
//! under a name with [`Application::build_with_sources`], and bind groups to that name:
//!
//! ```toml
//! [[group]]
//! name = "garden.harvests"
//! title = "Harvests"
//! description = "Move a copy of the harvests you logged"
//! time_filter = true
//! access_types = ["one-time", "time-based"]
//! folder = "Garden/Harvests"
//! format = "ndjson"
//! [group.source]
//! kind = "custom"
//! name = "harvests"
//! ```
//!
//! The rules a source must keep: select data by `request.subject` and nothing else; write only
//! records whose time is in `[request.start_time, request.export_time)` when the group has a time
//! filter; return `SourceError::Cancelled` soon after `request.is_cancelled()` turns true; report
//! a failure that a retry may cure as `Transient` and any other as `Permanent`. Test it against
//! [`MemorySink`], as `tests/it/sources.rs` does with this very source.
//!
//! Run: `cargo run --example custom_source -- CATALOGUE.toml` (serves on 127.0.0.1:8080 with the
//! data under `./custom-source-data`).

use std::collections::HashMap;
use std::sync::Arc;

use dataport_core::Config;
use dataport_core::catalogue::ResourceGroup;
#[allow(unused_imports)] // named in the documentation above
use dataport_core::sources::{AsyncDataSource, MemorySink, OnRuntime};
use dataport_core::sources::{DataSource, ExportRequest, FileSink, SourceError, data_layout};
use dataport_server::Application;
use dataport_types::Timestamp;

/// Harvests logged in a garden app: here computed, in your build read from wherever they live.
pub struct Harvests;

impl Harvests {
    /// A user's harvests: one a week since 2024, for the demo.
    fn of(subject: &str) -> impl Iterator<Item = (Timestamp, String)> + '_ {
        let start = Timestamp::parse("2024-01-01T00:00:00Z").unwrap_or_else(|_| Timestamp::now());
        (0..104).map(move |week| {
            let at = start.plus_seconds(week * 7 * 86_400);
            (at, format!("{subject}'s harvest of week {week}"))
        })
    }
}

impl DataSource for Harvests {
    fn export(
        &self,
        group: &ResourceGroup,
        request: &ExportRequest<'_>,
        sink: &mut dyn FileSink,
    ) -> Result<(), SourceError> {
        sink.begin_file(&group.file_name(), data_layout(group.format, "time,what"))?;
        for (at, what) in Self::of(request.subject) {
            request.check()?;
            let in_window = request.start_time.is_none_or(|start| at >= start) && at < request.export_time;
            if !in_window {
                continue;
            }
            let record = serde_json::json!({ "time": at.to_string(), "what": what });
            let mut bytes = serde_json::to_vec(&record).map_err(|e| SourceError::Permanent(e.to_string()))?;
            if group.format == dataport_core::catalogue::Format::Ndjson {
                bytes.push(b'\n');
            }
            sink.record(&bytes)?;
        }
        sink.end_file()?;
        Ok(())
    }
}

/// The sources this build registers, by the name catalogues use.
pub fn sources() -> HashMap<String, Arc<dyn DataSource>> {
    HashMap::from([("harvests".to_owned(), Arc::new(Harvests) as Arc<dyn DataSource>)])
}

#[allow(dead_code)] // when the tests include this file, they call `sources` but not `main`
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let catalogue = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: custom_source CATALOGUE.toml"))?;
    let mut config = Config::new(std::path::Path::new("./custom-source-data"));
    config.catalogue_path = Some(catalogue.into());
    let app = Application::build_with_sources(config, "127.0.0.1:8080".parse()?, sources()).await?;
    println!("serving at {}", app.core().config().public_origin);
    app.run_until_stopped(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

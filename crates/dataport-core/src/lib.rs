//! dataport's core: everything that is not HTTP.
//!
//! [`Dataport`] bundles the store, the catalogue, the blob store, the URL signer and the data
//! sources; the use cases of the API are its methods (module [`portability`]), the job engine runs
//! on it (module [`jobs`]). No global state: two instances can run side by side in one process.
#![forbid(unsafe_code)]

pub mod account;
pub mod admin;
pub mod archive;
pub mod auth;
pub mod blob;
mod cache;
pub mod catalogue;
pub mod config;
pub mod consent;
pub mod demo;
pub mod download;
pub mod error;
pub mod grants;
pub mod jobs;
pub mod metrics;
pub mod model;
pub mod oauth;
pub mod portability;
pub mod signing;
pub mod sources;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod users;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use dataport_types::Timestamp;
use tokio::sync::Notify;

pub use config::Config;
pub use error::ApiError;

use blob::BlobStore;
use catalogue::Catalogue;
use signing::UrlSigner;
use sources::{DataSource, Sources};
use store::Store;

/// Why the core could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Catalogue(#[from] catalogue::CatalogueError),
    #[error("database {url}: {source}")]
    Store { url: String, source: store::StoreError },
    #[error("blob store: {0}")]
    Blob(#[from] blob::BlobError),
    #[error(transparent)]
    Sources(#[from] sources::SourcesError),
    #[error("data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("{0}")]
    Config(String),
}

/// What [`Dataport::ready`] found on a ready node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// Resource groups of the loaded catalogue.
    pub catalogue_groups: usize,
}

/// What a node that cannot serve depends on ([`Dataport::ready`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependency {
    Database,
    BlobStore,
    Catalogue,
}

impl Dependency {
    /// Its name: all that a public answer (`/readyz`) says of it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Database => "database",
            Self::BlobStore => "blob store",
            Self::Catalogue => "catalogue",
        }
    }

    /// Its metric label.
    fn label(self) -> &'static str {
        match self {
            Self::Database => "database",
            Self::BlobStore => "blob_store",
            Self::Catalogue => "catalogue",
        }
    }
}

/// Why [`Dataport::ready`] says no: which dependency, and the detail (its error, which may name
/// hosts, buckets, paths and the service's own error text) for the operator's log only.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", dependency.name())]
pub struct NotReady {
    pub dependency: Dependency,
    pub detail: String,
}

/// A running dataport core. Cheap to share behind an `Arc`. It is the only door to the store,
/// the blobs and the signing keys: the HTTP layer and the admin commands call its use cases.
pub struct Dataport {
    config: Config,
    store: Arc<dyn Store>,
    catalogue: Catalogue,
    blobs: Arc<dyn BlobStore>,
    signer: UrlSigner,
    /// The data source of each group.
    sources: Sources,
    /// Wakes idle workers when a job is created.
    wake: Notify,
    /// Cancel flags of the exports running in this process, by job id.
    running: Mutex<HashMap<String, Arc<AtomicBool>>>,
    /// Failed sign-ins, for throttling.
    login_throttle: users::LoginThrottle,
    /// What an unknown username's password is checked against.
    decoy: Arc<users::Decoy>,
    /// This instance's Prometheus series (also held by the store wrapper that times calls).
    metrics: Arc<metrics::Metrics>,
    /// Tokens and finished jobs for the polling path; emptied by [`Dataport::revoking`].
    cache: cache::ReadCache,
}

impl Dataport {
    /// Opens the data directory: database (migrated), blobs, catalogue and signing keys.
    pub async fn open(config: Config) -> Result<Self, StartError> {
        Self::open_with_sources(config, HashMap::new()).await
    }

    /// [`Dataport::open`] with the sources registered in code, by the name a catalogue's
    /// `kind = "custom"` groups give (`source.name`).
    pub async fn open_with_sources(
        config: Config,
        custom: HashMap<String, Arc<dyn DataSource>>,
    ) -> Result<Self, StartError> {
        config.validate().map_err(StartError::Config)?;
        let dir_error = |source| StartError::DataDir { path: config.data_dir.display().to_string(), source };
        std::fs::create_dir_all(&config.data_dir).map_err(dir_error)?;
        let catalogue = match &config.catalogue_path {
            Some(path) => Catalogue::load(path)?,
            None => Catalogue::built_in(),
        };
        let url = config.database_url();
        let store =
            store::open(&url).await.map_err(|source| StartError::Store { url: config::redact_url(&url), source })?;
        let metrics = Arc::new(metrics::Metrics::new());
        let store: Arc<dyn Store> = Arc::new(store::MeteredStore::new(store, metrics.clone()));
        let blobs = blob::open(&config.blob_url(), store.clone())?;
        let keys = if config.signing_keys.is_empty() {
            vec![config::local_signing_key(&config.data_dir).map_err(dir_error)?]
        } else {
            config.signing_keys.clone()
        };
        let signer = UrlSigner::new(keys).ok_or_else(|| dir_error(std::io::Error::other("no signing key")))?;
        let runtime = tokio::runtime::Handle::current();
        let sources = Sources::build(&catalogue, config.emulator.clone(), &custom, &runtime)?;
        Ok(Self {
            sources,
            store,
            catalogue,
            blobs,
            signer,
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
            login_throttle: users::LoginThrottle::new(config.login_throttle),
            decoy: Arc::default(),
            metrics,
            cache: cache::ReadCache::default(),
            config,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The resource groups offered.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The store itself, for tests that set up or inspect records no use case exposes. Not in
    /// normal builds: the server and the admin commands go through the use cases.
    #[cfg(any(test, feature = "testing"))]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The blob store itself, for tests, like [`Dataport::store`].
    #[cfg(any(test, feature = "testing"))]
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// Whether this node can serve (SPEC §15 `/readyz`): the database (migrated at start) and
    /// the blob store answer, and the catalogue is loaded with at least one group. `Err` is the
    /// first thing that is not ready, counted in the metric `dataport_not_ready_total{dependency}`.
    pub async fn ready(&self) -> Result<Readiness, NotReady> {
        let not_ready = |dependency: Dependency, detail: String| {
            self.metrics.not_ready(dependency.label());
            NotReady { dependency, detail }
        };
        self.store.ping().await.map_err(|e| not_ready(Dependency::Database, e.to_string()))?;
        self.blobs.check().await.map_err(|e| not_ready(Dependency::BlobStore, e.to_string()))?;
        match self.catalogue.groups().len() {
            0 => Err(not_ready(Dependency::Catalogue, "no resource group is loaded".to_owned())),
            groups => Ok(Readiness { catalogue_groups: groups }),
        }
    }

    /// This instance's metrics, for the HTTP layer to record requests and downloads in.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    /// Every series ([`metrics::Metrics::encode`]), with the queue gauges read from the
    /// database now (left as they were if it does not answer).
    pub async fn metrics_text(&self, openmetrics: bool) -> String {
        let running = self.running.lock().map(|r| r.len()).unwrap_or_default();
        match self.store.queue_depth(Timestamp::now()).await {
            Ok(depth) => self.metrics.set_queue(depth.waiting, depth.leased, running),
            Err(e) => tracing::warn!(error = %e, "metrics: queue depth unavailable"),
        }
        self.metrics.encode(openmetrics)
    }

    /// Runs a store write that may revoke a token or an archive, then empties the read cache,
    /// whatever the write returned (it may have committed before failing): the next request on
    /// this node sees the revocation ([`cache`]).
    async fn revoking<T>(&self, write: impl std::future::Future<Output = T>) -> T {
        let result = write.await;
        self.cache.invalidate();
        result
    }

    /// Closes the store's connections (the admin commands' last step).
    pub async fn close(&self) {
        self.store.close().await;
    }
}

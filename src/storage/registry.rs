//! The object stores of a cluster's scheduler and executors: each process
//! builds the client of a bucket the first time a plan names it, from its own
//! environment and `revleak.toml` ([`store::build`](super::store::build)), so
//! credentials never travel in a plan or a session's settings; every executor
//! reads and writes with its own role or keys. `file://` is the local disk.

use super::store::{self, StorageSettings};
use datafusion::error::DataFusionError;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use std::sync::Arc;
use url::Url;

pub struct LazyStores {
    known: DefaultObjectStoreRegistry,
    settings: StorageSettings,
}

// Never a client's Debug: it can hold the secret.
impl std::fmt::Debug for LazyStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LazyStores")
    }
}

impl LazyStores {
    pub fn new(settings: StorageSettings) -> LazyStores {
        LazyStores {
            known: DefaultObjectStoreRegistry::new(),
            settings,
        }
    }
}

impl ObjectStoreRegistry for LazyStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        let base = Url::parse(&url[..url::Position::BeforePath])
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let built = store::build(&base, &self.settings)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        self.known.register_store(&base, built.clone());
        Ok(built)
    }
}

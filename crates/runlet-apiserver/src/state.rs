//! Shared server state handed to every handler.

use crate::auth::TokenFile;
use crate::decoded::DecodedCache;
use crate::logs::LogSource;
use crate::logs::nodeproxy::NodeClient;
use runlet_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

pub use runlet_api::clock::{Clock, SystemClock};

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub tokens: TokenFile,
    pub clock: Arc<dyn Clock>,
    /// Whether requests must be authenticated (false for the in-process client).
    pub require_auth: bool,
    /// Container log sources by node name (see [`crate::logs`]).
    pub log_sources: RwLock<HashMap<String, Arc<dyn LogSource>>>,
    /// The identity presented to remote node agents for their logs; without one, only
    /// in-process log sources serve logs.
    node_client: OnceLock<Arc<NodeClient>>,
    /// Objects as the latest writes left them, decoded (see [`crate::decoded`]).
    pub(crate) decoded: DecodedCache,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        tokens: TokenFile,
        clock: Arc<dyn Clock>,
        require_auth: bool,
    ) -> Self {
        AppState(Arc::new(Inner {
            store,
            tokens,
            clock,
            require_auth,
            log_sources: RwLock::default(),
            node_client: OnceLock::new(),
            decoded: DecodedCache::default(),
        }))
    }

    /// Serves logs of pods on `node` from `source` (replacing an earlier one).
    pub fn register_log_source(&self, node: &str, source: Arc<dyn LogSource>) {
        if let Ok(mut map) = self.log_sources.write() {
            map.insert(node.to_string(), source);
        }
    }

    /// The log source of `node`, if any.
    pub fn log_source(&self, node: &str) -> Option<Arc<dyn LogSource>> {
        self.log_sources.read().ok()?.get(node).cloned()
    }

    /// Lets the server read logs from remote node agents as `client` (set once).
    pub fn set_node_client(&self, client: NodeClient) {
        let _ = self.node_client.set(Arc::new(client));
    }

    /// The identity for remote node agents, if the server has one.
    pub fn node_client(&self) -> Option<Arc<NodeClient>> {
        self.node_client.get().cloned()
    }

    pub fn now_unix(&self) -> i64 {
        self.clock.now_unix()
    }
}

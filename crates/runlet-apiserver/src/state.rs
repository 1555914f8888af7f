//! Shared server state handed to every handler.

use crate::auth::TokenFile;
use crate::decoded::DecodedCache;
use crate::logs::LogSource;
use crate::logs::nodeproxy::NodeClient;
use crate::serviceaccount::TokenSigner;
use crate::serviceaccount::authenticate::AuthCache;
use runlet_store::Store;
use runlet_stream::ExecSource;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

pub use runlet_api::clock::{Clock, SystemClock};

/// A node agent in this process, as the API server reaches it (see [`crate::logs`] and
/// [`crate::handlers::exec`]).
#[derive(Clone)]
pub struct LocalAgent {
    pub logs: Arc<dyn LogSource>,
    pub exec: Arc<dyn ExecSource>,
}

impl LocalAgent {
    pub fn new<A: LogSource + ExecSource>(agent: A) -> LocalAgent {
        let agent = Arc::new(agent);
        LocalAgent {
            logs: agent.clone(),
            exec: agent,
        }
    }
}

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub tokens: TokenFile,
    pub clock: Arc<dyn Clock>,
    /// Whether requests must be authenticated (false for the in-process client).
    pub require_auth: bool,
    /// The node agents that run in this process, by node name.
    local_agents: RwLock<HashMap<String, LocalAgent>>,
    /// The identity presented to remote node agents for their logs and execs; without one,
    /// only the agents in this process serve them.
    node_client: OnceLock<Arc<NodeClient>>,
    /// The key service account tokens are signed with; without one, pods get no token and
    /// no such token is accepted (see [`crate::serviceaccount`]).
    token_signer: OnceLock<Arc<TokenSigner>>,
    /// Service account tokens checked recently.
    pub(crate) token_cache: AuthCache,
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
            local_agents: RwLock::default(),
            node_client: OnceLock::new(),
            token_signer: OnceLock::new(),
            token_cache: AuthCache::default(),
            decoded: DecodedCache::default(),
        }))
    }

    /// Serves the logs and execs of pods on `node` from `agent`, which runs in this process
    /// (replacing an earlier one).
    pub fn register_local_agent(&self, node: &str, agent: LocalAgent) {
        if let Ok(mut map) = self.local_agents.write() {
            map.insert(node.to_string(), agent);
        }
    }

    /// The agent of `node` when it runs in this process.
    pub fn local_agent(&self, node: &str) -> Option<LocalAgent> {
        self.local_agents.read().ok()?.get(node).cloned()
    }

    /// Lets the server read logs from remote node agents as `client` (set once).
    pub fn set_node_client(&self, client: NodeClient) {
        let _ = self.node_client.set(Arc::new(client));
    }

    /// The identity for remote node agents, if the server has one.
    pub fn node_client(&self) -> Option<Arc<NodeClient>> {
        self.node_client.get().cloned()
    }

    /// Issues and accepts service account tokens signed by `signer` (set once).
    pub fn set_token_signer(&self, signer: TokenSigner) {
        let _ = self.token_signer.set(Arc::new(signer));
    }

    /// The service account token signer, if the server has one.
    pub fn token_signer(&self) -> Option<Arc<TokenSigner>> {
        self.token_signer.get().cloned()
    }

    pub fn now_unix(&self) -> i64 {
        self.clock.now_unix()
    }
}

//! Shared server state handed to every handler.

use crate::auth::TokenFile;
use runlet_store::Store;
use std::sync::Arc;

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
        }))
    }

    pub fn now_unix(&self) -> i64 {
        self.clock.now_unix()
    }
}

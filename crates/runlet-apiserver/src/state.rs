//! Shared server state handed to every handler.

use crate::auth::TokenFile;
use runlet_store::Store;
use std::sync::Arc;

/// A source of the current time, so tests can run the server on a fake clock.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> i64;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
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

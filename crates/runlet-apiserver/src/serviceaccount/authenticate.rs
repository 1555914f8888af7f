//! A bearer token that we signed for a service account is that account, as upstream's
//! service account authenticator with its validator (`pkg/serviceaccount/claims.go`): the
//! signature, issuer, audience and lifetime must hold, and the account and the object the
//! token is bound to (a pod, a secret or a node) must still exist with the UIDs the token
//! names and not have been deleted more than a minute ago (a pod keeps its identity while it
//! shuts down).
//!
//! A token that passes is remembered for ten seconds (upstream caches successes as long), so
//! a pod calling the API often costs one signature check and two reads every ten seconds.

use super::token::{ObjectRef, looks_like_jwt};
use crate::auth::User;
use crate::registry;
use crate::state::AppState;
use runlet_api::resources::{self, ResourceInfo};
use std::collections::HashMap;
use std::sync::Mutex;

/// How long a checked token is taken on trust.
const CACHE_SECS: i64 = 10;
/// Tokens remembered at most; the cache starts over when it is full.
const CACHE_CAPACITY: usize = 4096;
/// How long after its deletion began an object still vouches for its tokens.
const DELETION_GRACE_SECS: i64 = 60;

/// Tokens checked recently: the user each one is, and until when (server clock).
#[derive(Default)]
pub struct AuthCache(Mutex<HashMap<String, (User, i64)>>);

/// The service account `token` stands for, or `None` when it is not one of our tokens or no
/// longer good.
pub async fn user(state: &AppState, token: &str) -> Option<User> {
    if !looks_like_jwt(token) {
        return None;
    }
    let signer = state.token_signer()?;
    let now = state.now_unix();
    if let Some(user) = state.token_cache.lookup(token, now) {
        return Some(user);
    }
    let claims = match signer.verify(token, now) {
        Ok(claims) => claims,
        Err(e) => {
            tracing::debug!(error = %e, "a bearer token was refused");
            return None;
        }
    };
    let private = &claims.kubernetes;
    let ns = private.namespace.as_str();
    let still_there = async |plural: &str, namespaced: bool, r: &ObjectRef| {
        let info = resources::find("", "v1", plural)?;
        let found = exists(state, info, namespaced.then_some(ns), r, now).await;
        if !found {
            tracing::debug!(kind = info.kind, name = %r.name, "a service account token's object is gone");
        }
        found.then_some(())
    };
    still_there("serviceaccounts", true, &private.serviceaccount).await?;
    if let Some(pod) = &private.pod {
        still_there("pods", true, pod).await?;
    }
    if let Some(secret) = &private.secret {
        still_there("secrets", true, secret).await?;
    }
    // A pod's token names its node for information: only a token bound to the node itself
    // goes with it.
    if let Some(node) = &private.node
        && private.pod.is_none()
    {
        still_there("nodes", false, node).await?;
    }
    let user = User {
        name: super::user_name(ns, &private.serviceaccount.name),
        groups: vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{ns}"),
            "system:authenticated".into(),
        ],
    };
    state.token_cache.remember(token, &user, now + CACHE_SECS);
    Some(user)
}

/// Whether the object `r` names is there with its UID, and not deleted for long.
async fn exists(
    state: &AppState,
    info: &ResourceInfo,
    ns: Option<&str>,
    r: &ObjectRef,
    now: i64,
) -> bool {
    let Ok(obj) = registry::get(state, info, ns, &r.name).await else {
        return false;
    };
    if obj["metadata"]["uid"].as_str() != Some(r.uid.as_str()) {
        return false;
    }
    let deleted_at = obj["metadata"]["deletionTimestamp"]
        .as_str()
        .and_then(runlet_api::clock::parse_rfc3339);
    deleted_at.is_none_or(|at| at + DELETION_GRACE_SECS > now)
}

impl AuthCache {
    fn lookup(&self, token: &str, now: i64) -> Option<User> {
        let cache = self.0.lock().ok()?;
        let (user, until) = cache.get(token)?;
        (*until > now).then(|| user.clone())
    }

    fn remember(&self, token: &str, user: &User, until: i64) {
        if let Ok(mut cache) = self.0.lock() {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(token.to_string(), (user.clone(), until));
        }
    }
}

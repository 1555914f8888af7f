//! runlet's web console.
//!
//! The console is plain ES modules, web components and CSS under `assets/`, embedded in the
//! binary at compile time (no front-end build step, no CDN: it works offline). In the browser it
//! is a pure client of the public Kubernetes API — list + watch for every live view,
//! `pods/log?follow=true` for logs — with a bearer token the user signs in with, so it would
//! work the same against any cluster behind a proxy.
//!
//! [`router`] serves the assets at `/console/`, redirects `/` there, and adds one read-only,
//! credential-free computation the Kubernetes API has no place for: a cron schedule's
//! description and next run times ([`schedule`]), derived on the server from the same code the
//! CronJob controller schedules by, never re-implemented in JavaScript.
//!
//! None of these routes need authentication: they serve no cluster data. `runlet server`
//! merges this router beside the API router, after the API's authentication layer.

mod assets;
pub mod schedule;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use runlet_api::clock::Clock;
use std::sync::Arc;

/// Where the console lives.
pub const PATH: &str = "/console/";

/// The console's routes: `/` and `/console` redirect to `/console/`, `/console/` and
/// `/console/{asset}` serve the embedded files, `/console/api/schedule` describes a schedule.
/// `clock` is the time next runs are computed from.
pub fn router(clock: Arc<dyn Clock>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to(PATH) }))
        .route("/console", get(|| async { Redirect::to(PATH) }))
        .route("/console/", get(assets::index))
        .route(
            "/console/api/schedule",
            get(schedule::handler).with_state(clock),
        )
        .route("/console/{*path}", get(assets::asset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http::{Request, StatusCode};
    use runlet_api::clock::FakeClock;
    use tower::ServiceExt;

    fn app() -> Router {
        router(Arc::new(FakeClock::at(1_700_000_000)))
    }

    async fn get_path(path: &str) -> (StatusCode, http::HeaderMap, Vec<u8>) {
        let res = app()
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = res.status();
        let headers = res.headers().clone();
        let body = axum::body::to_bytes(res.into_body(), 1 << 24)
            .await
            .expect("body")
            .to_vec();
        (status, headers, body)
    }

    #[tokio::test]
    async fn root_redirects_browsers_to_the_console() {
        let (status, headers, _) = get_path("/").await;
        assert!(status.is_redirection());
        assert_eq!(
            headers.get(http::header::LOCATION).map(|v| v.as_bytes()),
            Some(PATH.as_bytes())
        );
    }

    #[tokio::test]
    async fn console_serves_the_embedded_page_and_modules() {
        let (status, headers, body) = get_path("/console/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(&b"text/html; charset=utf-8"[..])
        );
        let html = String::from_utf8(body).expect("utf-8");
        assert!(html.contains("js/app.js"), "{html}");
        let (status, headers, _) = get_path("/console/js/app.js").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(&b"text/javascript; charset=utf-8"[..])
        );
    }

    #[tokio::test]
    async fn unknown_asset_is_not_found_and_paths_cannot_escape() {
        assert_eq!(get_path("/console/nope.js").await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            get_path("/console/../Cargo.toml").await.0,
            StatusCode::NOT_FOUND
        );
    }
}

//! The embedded files under `assets/`, served with their content types.
//!
//! Every file is compiled into the binary with `include_bytes!`; a test checks that the table
//! below names every file in the folder, so a new module cannot be forgotten. Responses carry
//! `Cache-Control: no-cache` (a new binary's assets are picked up at once) and a content
//! security policy that allows nothing but this origin.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $path)) as &[u8])),*]
    };
}

/// Every embedded file, by its path under `assets/`.
pub(crate) const ASSETS: &[(&str, &[u8])] = assets![
    "index.html",
    "favicon.svg",
    "css/console.css",
    "js/app.js",
    "js/api.js",
    "js/util.js",
    "js/yaml.js",
    "js/jobs-model.js",
    "js/components/progress.js",
    "js/components/log-viewer.js",
    "js/components/yaml-editor.js",
    "js/pages/signin.js",
    "js/pages/overview.js",
    "js/pages/jobs.js",
    "js/pages/job-detail.js",
    "js/pages/job-form.js",
    "js/pages/yaml-tab.js",
    "js/pages/cronjobs.js",
    "js/pages/cronjob-detail.js",
    "js/pages/pods.js",
    "js/pages/nodes.js",
    "js/pages/events.js",
];

const CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn serve(path: &str) -> Response {
    match ASSETS.iter().find(|(p, _)| *p == path) {
        Some((p, bytes)) => (
            [
                (header::CONTENT_TYPE, content_type(p)),
                (header::CACHE_CONTROL, "no-cache"),
                (header::CONTENT_SECURITY_POLICY, CSP),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

/// `GET /console/`: the single page.
pub(crate) async fn index() -> Response {
    serve("index.html")
}

/// `GET /console/{*path}`: one embedded file.
pub(crate) async fn asset(Path(path): Path<String>) -> Response {
    serve(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_under(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read assets dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                files_under(&path, base, out);
            } else {
                let rel = path.strip_prefix(base).expect("under base");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_file_in_assets_is_embedded() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        let mut files = Vec::new();
        files_under(&base, &base, &mut files);
        for f in &files {
            assert!(
                ASSETS.iter().any(|(p, _)| p == f),
                "assets/{f} is not listed in ASSETS"
            );
        }
        assert_eq!(files.len(), ASSETS.len());
    }

    #[test]
    fn modules_are_served_as_javascript() {
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("css/console.css"), "text/css; charset=utf-8");
    }
}

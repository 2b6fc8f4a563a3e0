//! The web console (SPEC section 4, `web/`): its built files, embedded in the binary by
//! `build.rs`, served at `/` with a strict Content-Security-Policy. Nothing the console needs
//! comes from anywhere else: no CDN, no web fonts, no map tiles.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One embedded file of the built console.
pub struct Asset {
    /// URL path, `/index.html`, `/assets/index-3f2a.js`, ...
    pub path: &'static str,
    pub media_type: &'static str,
    /// A weak entity tag of the bytes, `W/"..."`, for `If-None-Match`.
    pub etag: &'static str,
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// Scripts, styles, images and connections only from this server; no inline script or style,
/// no frames, no plugins, no form posts elsewhere. The console sets element styles through the
/// CSSOM only, which `style-src 'self'` allows.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; \
    manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page served when the binary was built without the console (`web/dist` missing).
const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
    <title>CommonsNet</title></head><body><h1>CommonsNet</h1><p>The service is running, but this \
    binary was built without its web console. Build it with <code>npm ci &amp;&amp; npm run \
    build</code> in <code>web/</code> (or <code>bash scripts/setup.sh</code>), then rebuild the \
    binary. The API is at <code>/v1/</code>, its description at \
    <code>/openapi.json</code>.</p></body></html>";

/// Whether this binary carries the built console.
pub fn built() -> bool {
    ASSETS.iter().any(|a| a.path == "/index.html")
}

/// The embedded file for a request path: `/` is the console's page; everything else is
/// looked up as it is (the console routes by the URL fragment, so no other path is a page).
pub fn asset(path: &str) -> Option<&'static Asset> {
    let path = if path == "/" { "/index.html" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

/// The console's answer to `GET`/`HEAD` of `uri`, or `None` when no console file has that path.
/// A file the client holds already (`If-None-Match` names its tag) is answered 304 without a
/// body: the page is checked on every load, and a phone on a slow link then reloads nothing.
pub fn serve(method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let path = uri.path();
    let (media_type, bytes, etag, immutable) = match asset(path) {
        Some(a) => (
            a.media_type,
            a.bytes,
            Some(a.etag),
            a.path.starts_with("/assets/"),
        ),
        None if path == "/" => (
            "text/html; charset=utf-8",
            NOT_BUILT.as_bytes(),
            None,
            false,
        ),
        None => return None,
    };
    let mut resp = match etag {
        Some(tag) if crate::conditional::none_match(headers, tag) => {
            StatusCode::NOT_MODIFIED.into_response()
        }
        _ => {
            let mut resp = (StatusCode::OK, bytes).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
            resp
        }
    };
    let h = resp.headers_mut();
    if let Some(tag) = etag {
        h.insert(header::ETAG, HeaderValue::from_static(tag));
    }
    // A file of a type the service gzips varies by `Accept-Encoding`, and its 304 must say
    // so as its 200 does (RFC 9110, 15.4.5): a 304 has no type for the layer to go by.
    if crate::routes::gzipped_type(media_type) {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Vite names the files under /assets/ by their content's hash: they never change. The page
    // itself is checked on every load so a new binary's console is picked up at once.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    Some(resp)
}

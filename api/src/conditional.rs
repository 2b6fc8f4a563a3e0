//! Conditional GET (RFC 9110, section 13): a client that holds an answer names its entity tag
//! in `If-None-Match` and is answered 304 without a body while the tag still stands. The
//! console's files are tagged by their bytes (`console.rs`); a session's plan and state by the
//! sequence number of the last batch they follow, so a phone polling an unchanged session
//! downloads nothing, and the server does not work out a report to send it.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Whether `If-None-Match` in `headers` names `etag` (or is `*`), by the weak comparison the
/// RFC asks of it: `W/` aside, the tags' quoted parts equal.
pub fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    let ours = opaque(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || opaque(tag) == ours)
}

/// What a session's read answers of `kind` (`plan`, `arrow`, `state`) are tagged with after
/// batch `seq`. The state after a batch is the same wherever and whenever it is rebuilt (a
/// replay ends at the very plan, ARCHITECTURE "Warm sessions"), but among tied optima the
/// plan may differ from one version of the binary to another: the version is in the tag, so
/// replicas of two versions never vouch for each other's plans; so may a warm session's and a
/// cold one's (`--warm-sessions` set on one replica and not on another), so that is in the tag
/// too (a replica that took a warm session over cold answered 304 to the warm plan's tag).
/// Weak: the JSON, gzipped or not, is one representation, and the prices in a report are
/// those of one state.
pub fn session_tag(kind: &str, seq: i64, warm: bool) -> String {
    let mode = if warm { "warm" } else { "cold" };
    format!("W/\"{kind}-{seq}-{}-{mode}\"", env!("CARGO_PKG_VERSION"))
}

/// Sets the tag and the rule that every use asks the server first (`no-cache`; `private`:
/// a session's answers are for its tenant, not for a shared cache). `Vary: accept-encoding`
/// on the 200 and the 304 alike, as the JSON may be gzipped (RFC 9110, 15.4.5: a 304 names
/// what its 200 would).
pub fn tagged(mut resp: Response, etag: &str) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    resp
}

/// 304 for a client that holds the answer tagged `etag`.
pub fn not_modified(etag: &str) -> Response {
    tagged(StatusCode::NOT_MODIFIED.into_response(), etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn if_none_match_compares_weakly_across_lists_and_lines() {
        let tag = "W/\"plan-3-1\"";
        assert!(none_match(&with(&[tag]), tag));
        assert!(none_match(&with(&["\"plan-3-1\""]), tag));
        assert!(none_match(&with(&["\"x\", W/\"plan-3-1\""]), tag));
        assert!(none_match(&with(&["\"x\"", " W/\"plan-3-1\" "]), tag));
        assert!(none_match(&with(&["*"]), tag));
        assert!(!none_match(&with(&[]), tag));
        assert!(!none_match(&with(&["W/\"plan-4-1\""]), tag));
        assert!(!none_match(&with(&["W/\"plan-3-1"]), tag));
    }

    #[test]
    fn session_tags_differ_by_kind_and_batch() {
        assert_ne!(session_tag("plan", 3, false), session_tag("plan", 4, false));
        assert_ne!(
            session_tag("plan", 3, false),
            session_tag("state", 3, false)
        );
        assert!(session_tag("arrow", 0, false).starts_with("W/\"arrow-0-"));
        // A warm session's plan and a cold one's may differ among tied optima.
        assert_ne!(session_tag("plan", 3, true), session_tag("plan", 3, false));
    }
}

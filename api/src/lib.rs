//! CommonsNet HTTP service. The routes of SPEC section 4 arrive with the HTTP service issue;
//! until then this crate holds the pieces of the service contract that do not need a server.

use commonsnet_engine::InvalidInput;
use serde_json::{json, Value};

/// The JSON error body of SPEC section 4 for rejected input:
/// `{"error": {"code", "message", "details": [...]}}`.
pub fn invalid_input_body(e: &InvalidInput) -> Value {
    json!({"error": {
        "code": "invalid_input",
        "message": e.to_string(),
        "details": e.issues,
    }})
}

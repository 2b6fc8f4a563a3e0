//! Session events: the text through the strict parser (and through serde_json, as request
//! bodies are read), then `parse_events`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = commonsnet_engine::input::parse_json(data);
    let lax = serde_json::from_slice::<serde_json::Value>(data);
    if let (Ok(a), Ok(b)) = (&strict, &lax) {
        assert_eq!(a, b, "the strict parser reads a valid document differently");
    }
    if strict.is_ok() {
        assert!(
            lax.is_ok(),
            "the strict parser accepts what serde_json refuses"
        );
    }
    if let Ok(v) = lax {
        let _ = commonsnet_engine::session::parse_events(&v);
        if let Some(events) = v.get("events") {
            let _ = commonsnet_engine::session::parse_events(events);
        }
    }
});

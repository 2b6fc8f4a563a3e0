//! `policy.json` text: strict parse, then the policy validator.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = commonsnet_engine::input::parse_json(data) {
        let _ = commonsnet_engine::input::policy_from_value(&v);
    }
});

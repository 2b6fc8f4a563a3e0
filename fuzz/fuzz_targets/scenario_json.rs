//! Scenario JSON text, as files and HTTP bodies carry it: strict parse (duplicate keys refused),
//! validation, and for an accepted scenario its digest and the table round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = commonsnet_engine::input::scenario_from_json_slice(data) else {
        return;
    };
    let _ = s.digest();
    if let Ok(t) = commonsnet_engine::tables::scenario_to_tables(&s) {
        let back = commonsnet_engine::scenario_from_batches(
            std::slice::from_ref(&t.resources),
            std::slice::from_ref(&t.needs),
            t.links.as_ref().map(std::slice::from_ref),
            Some(&t.policy),
            s.name(),
        );
        assert!(
            back.is_ok(),
            "a valid scenario's own tables are refused: {back:?}"
        );
    }
});

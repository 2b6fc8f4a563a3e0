//! OR-Library GAP files (one instance or the multi-instance layout), and small instances
//! through the scenario mapping and the validator, as the CLI takes them.
#![no_main]

use commonsnet_datasets::orlib::Sense;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(instances) = commonsnet_datasets::orlib::parse_gap(data) else {
        return;
    };
    for inst in instances {
        assert_eq!(inst.cost.len(), inst.agents * inst.jobs);
        if inst.agents * inst.jobs <= 400 {
            let v = inst.to_scenario(Sense::Min, "fuzz");
            let _ = commonsnet_engine::scenario_from_value(&v);
        }
    }
});

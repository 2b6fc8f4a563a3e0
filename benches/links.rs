//! Link building alone (issue 7's workload): 200,000 needs x 20,000 resources with coordinates
//! and a distance rule, built through the spatial index (`LinkBuilder`) and by comparing every
//! pair (`LinkBuilder::all_pairs`), both spread over all cores by needs.
//!
//!     cargo bench --bench links [-- --needs N --resources R --radius-km D --sample S --reps K]
//!
//! The radius sets how many links there are: 1.5 km (the default) gives ~15 per need, 4 km
//! ~100 (20 million links in all).
//!
//! Every pair costs the same work per need (each need is checked against every resource), so
//! all-pairs is timed on the first `--sample` needs and scaled by `needs / sample`; the links it
//! finds there must equal the index's. Prints one JSON line (medians of `--reps`).

use commonsnet_datasets::instances::allocation_value;
use commonsnet_engine::graph::{Edge, LinkBuilder};
use rayon::prelude::*;
use std::time::Instant;

#[path = "shared/flags.rs"]
mod flags;
use flags::{arg, median};

fn main() {
    let (needs, resources) = (arg("--needs", 200_000), arg("--resources", 20_000));
    let (sample, reps) = (arg("--sample", 2_000).min(needs), arg("--reps", 5));
    let radius: f64 = arg("--radius-km", 1.5);
    let value = allocation_value(needs, resources, 3, radius, 7);
    let s = commonsnet_engine::scenario_from_value(&value).expect("valid scenario");
    let mut index_s = Vec::new();
    let mut edges = Vec::new();
    for _ in 0..reps {
        // The last repetition's links are freed before the clock starts, not inside it.
        drop(std::mem::take(&mut edges));
        let t = Instant::now();
        edges = LinkBuilder::new(s.resources(), s.policy()).build(s.needs());
        index_s.push(t.elapsed().as_secs_f64());
    }
    let mut pairs_s = Vec::new();
    for _ in 0..reps.min(3) {
        let t = Instant::now();
        let found: Vec<_> = s.needs()[..sample]
            .par_chunks(64)
            .enumerate()
            .flat_map_iter(|(c, chunk)| {
                let start = c * 64;
                LinkBuilder::all_pairs(s.resources(), chunk, s.policy())
                    .into_iter()
                    .map(move |e| Edge::new(e.resource(), e.need() + start, e.cost, e.time()))
            })
            .collect();
        pairs_s.push(t.elapsed().as_secs_f64() * needs as f64 / sample as f64);
        let indexed: Vec<_> = edges
            .iter()
            .filter(|e| e.need() < sample)
            .cloned()
            .collect();
        assert_eq!(found, indexed, "the index and every-pair links differ");
    }
    let (index, pairs) = (median(index_s), median(pairs_s));
    println!(
        "{}",
        serde_json::json!({
            "needs": needs, "resources": resources, "radius_km": radius, "links": edges.len(),
            "threads": rayon::current_num_threads(),
            "index_s": index, "all_pairs_s": pairs, "sample_needs": sample,
            "speedup": pairs / index,
        })
    );
}

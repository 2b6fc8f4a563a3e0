//! `commonsnet instance`: seeded benchmark instances of the peer comparison, as DIMACS text or
//! (for the allocation workload) a scenario directory of Parquet tables.

use super::describe;
use anyhow::{anyhow, Result};
use commonsnet_datasets::{write_scenario_tables, DatasetError, TableFormat};
use std::path::PathBuf;

/// Bounds of `instance allocation`: entities of each side, dimensions, and entity x
/// dimension values of the scenario built in memory.
const MAX_ALLOCATION_ENTITIES: usize = 1_000_000;
/// Largest `netgen8 --k`: 2^20 nodes, 8.4M arcs, ~0.8 GB at its peak.
const MAX_NETGEN_K: u32 = 20;
const MAX_ALLOCATION_DIMS: usize = 64;
const MAX_ALLOCATION_ENTRIES: usize = 10_000_000;
/// The scenario is built as JSON, then as the model, then as tables: about 2.4 KB an entity
/// with one dimension (measured: 2,000,000 entities peaked at 4.9 GB, and with five
/// dimensions the process aborted on an allocation under a 4 GB limit), so a budget of
/// memory bounds their number with the dimensions.
const ALLOCATION_BYTES_PER_ENTITY: usize = 2_500;
const ALLOCATION_BYTES_PER_ENTRY: usize = 500;
const MAX_ALLOCATION_BYTES: usize = 3 << 30;

#[derive(clap::Args)]
pub struct InstanceArgs {
    #[command(subcommand)]
    kind: InstanceKind,
    #[arg(long, default_value_t = 1, global = true)]
    seed: u64,
    /// Output file (`.min` for flows, `.asn` for assignment; a directory for allocation).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum InstanceKind {
    /// NETGEN-8 network: 2^k nodes, 8 arcs per node (our NETGEN-style generator).
    Netgen8 {
        #[arg(long)]
        k: u32,
    },
    /// Stations supplying incidents, each linked to its nearest stations.
    Crisis {
        #[arg(long, default_value_t = 2000)]
        stations: usize,
        #[arg(long, default_value_t = 50000)]
        incidents: usize,
        #[arg(long, default_value_t = 20)]
        candidates: usize,
    },
    /// Complete n x n assignment, costs uniform in [1, 10^6].
    DenseAssign {
        #[arg(long)]
        n: usize,
    },
    /// Multi-dimensional allocation scenario with rule-built links written out explicitly
    /// (a scenario directory of Parquet tables; --out names the directory).
    Allocation {
        #[arg(long, default_value_t = 20000)]
        needs: usize,
        #[arg(long, default_value_t = 2000)]
        resources: usize,
        #[arg(long, default_value_t = 3)]
        dims: usize,
        #[arg(long, default_value_t = 4.0)]
        max_distance_km: f64,
    },
}

pub fn run(args: &InstanceArgs) -> Result<()> {
    use commonsnet_datasets::instances;
    let out = args
        .out
        .as_ref()
        .ok_or_else(|| anyhow!("--out FILE is required"))?;
    // A file the solver would read as the other format is refused: `solve` reads a `.asn`
    // as an assignment (a netgen8 flow written there was refused only when read back).
    let named = |ext: &str| out.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext));
    let mismatch = match &args.kind {
        InstanceKind::Netgen8 { .. } | InstanceKind::Crisis { .. } if named("asn") => {
            Some("a min-cost flow, for a .min file")
        }
        InstanceKind::DenseAssign { .. } if named("min") => Some("an assignment, for a .asn file"),
        // As `generate` refuses it: a folder named `al.csv` holding Parquet tables.
        InstanceKind::Allocation { .. }
            if ["csv", "parquet", "arrow", "json", "min", "asn"]
                .iter()
                .any(|e| named(e)) =>
        {
            Some("a scenario folder of Parquet tables, for a name without an extension")
        }
        _ => None,
    };
    if let Some(what) = mismatch {
        return Err(anyhow!(
            "--out {}: `solve` reads its extension as the other format; this instance is {what}",
            out.display()
        ));
    }
    let seed = args.seed;
    let text = match &args.kind {
        InstanceKind::Netgen8 { k } => {
            // Each step of k doubles the memory: 2^24 would ask ~12 GB (a review's measure).
            if !(4..=MAX_NETGEN_K).contains(k) {
                return Err(anyhow!("--k must be in 4..={MAX_NETGEN_K}"));
            }
            let p = instances::NetgenParams::netgen8(*k, seed);
            let fp = instances::netgen(&p).map_err(|e| anyhow!(e))?;
            instances::write_min(
                &fp,
                &[format!("NETGEN-style (commonsnet instance netgen8): {p:?}")],
            )
        }
        InstanceKind::Crisis {
            stations,
            incidents,
            candidates,
        } => {
            let c = instances::crisis_transport(*stations, *incidents, *candidates, seed)
                .map_err(|e| anyhow!(e))?;
            instances::write_min(
                &c.flow,
                &[format!(
                    "crisis transport: {stations} stations x {incidents} incidents, \
                     {candidates} candidates, seed {seed}"
                )],
            )
        }
        InstanceKind::Allocation {
            needs,
            resources,
            dims,
            max_distance_km,
        } => {
            // Bounded before the scenario's JSON is built (a value per entity and dimension).
            if !(1..=MAX_ALLOCATION_ENTITIES).contains(needs)
                || !(1..=MAX_ALLOCATION_ENTITIES).contains(resources)
            {
                return Err(anyhow!(
                    "--needs and --resources must each be in 1..={MAX_ALLOCATION_ENTITIES}"
                ));
            }
            if !(1..=MAX_ALLOCATION_DIMS).contains(dims)
                || (needs + resources).saturating_mul(*dims) > MAX_ALLOCATION_ENTRIES
            {
                return Err(anyhow!(
                    "--dims must be in 1..={MAX_ALLOCATION_DIMS}, with (needs + resources) x \
                     dims at most {MAX_ALLOCATION_ENTRIES}"
                ));
            }
            let entities = needs + resources;
            let bytes = entities
                .saturating_mul(ALLOCATION_BYTES_PER_ENTITY)
                .saturating_add(
                    entities
                        .saturating_mul(*dims)
                        .saturating_mul(ALLOCATION_BYTES_PER_ENTRY),
                );
            if bytes > MAX_ALLOCATION_BYTES {
                return Err(anyhow!(
                    "{entities} entities of {dims} dimension(s) would take about {} MB to build \
                     (at most {} MB): ask for fewer needs, resources or dimensions",
                    bytes >> 20,
                    MAX_ALLOCATION_BYTES >> 20
                ));
            }
            // A distance that is not a positive number would drop the rule and link every pair.
            if !(max_distance_km.is_finite() && *max_distance_km > 0.0) {
                return Err(anyhow!(
                    "--max-distance-km must be a positive number of kilometres, not {max_distance_km}"
                ));
            }
            let value =
                instances::allocation_value(*needs, *resources, *dims, *max_distance_km, seed);
            let s = commonsnet_engine::scenario_from_value(&value)
                .map_err(|e| describe(DatasetError::Invalid(e)))?;
            let s = s.with_rule_built_links();
            let t = commonsnet_engine::tables::scenario_to_tables(&s)?;
            write_scenario_tables(
                out,
                &t.resources,
                &t.needs,
                t.links.as_ref(),
                Some(&t.policy),
                TableFormat::Parquet,
            )
            .map_err(describe)?;
            return Ok(());
        }
        InstanceKind::DenseAssign { n } => {
            // The `.asn` reader takes at most the engine's dense assignment matrix.
            let max = (commonsnet_engine::MAX_ASSIGNMENT_CELLS as f64).sqrt() as usize;
            if *n == 0 || *n > max {
                return Err(anyhow!("--n must be in 1..={max}"));
            }
            let cost = instances::dense_assignment(*n, seed);
            instances::write_asn(
                *n,
                &cost,
                &[format!(
                    "dense assignment {n} x {n}, costs in [1, 1e6], seed {seed}"
                )],
            )
        }
    };
    commonsnet_datasets::write_file(out, text.as_bytes()).map_err(describe)?;
    Ok(())
}

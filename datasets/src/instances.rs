//! Seeded benchmark instances for the peer comparison (`benches/peers/`), written as DIMACS
//! text so that every tool reads exactly the same file:
//!
//! - [`NetgenParams`] / [`netgen`]: general min-cost flow networks built the way NETGEN
//!   (Klingman, Napier & Stutz 1974) builds them, from its published parameters: a skeleton of
//!   source-to-sink chains that makes the instance feasible (at maximum cost, so the solver has
//!   to find the cheap routes), then random arcs spread evenly over the tails. Not NETGEN's
//!   random stream, so not byte-identical to its files; the same family and sizes.
//! - [`crisis_transport`]: stations supplying teams to incidents, each incident linked to its
//!   nearest stations (the shape this engine exists for).
//! - [`dense_assignment`]: complete `n x n` assignment with uniform costs.

use commonsnet_engine::seeds::SplitMix64;
use commonsnet_solvers::FlowProblem;
use std::fmt::Write as _;

/// Parameters no instance can be built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InstanceError {
    /// The sizes of what DIMACS files may hold (see `dimacs`).
    #[error("at most 10^8 nodes and 10^9 arcs")]
    NetgenTooLarge,
    #[error("need at least one source and one sink, and no more than the nodes")]
    NetgenEnds,
    #[error("total supply must give every source at least one unit")]
    NetgenSupply,
    #[error("cost and capacity ranges must be ordered (capacities >= 0)")]
    NetgenRanges,
    #[error("--stations and --incidents must be at least 1, and --candidates 1 to --stations")]
    CrisisShape,
    /// Also what keeps the arithmetic of [`crisis_transport`] from overflowing.
    #[error("at most 10^8 stations and incidents, and {MAX_CRISIS_LINKS} incident links")]
    CrisisTooLarge,
}

/// NETGEN's parameters (its input line), minus the transshipment sources and sinks, which the
/// families we run set to zero.
#[derive(Debug, Clone, PartialEq)]
pub struct NetgenParams {
    pub seed: u64,
    pub nodes: usize,
    pub sources: usize,
    pub sinks: usize,
    pub arcs: usize,
    pub min_cost: i64,
    pub max_cost: i64,
    pub total_supply: i64,
    /// Share of skeleton arcs given the maximum cost, in percent.
    pub hicost_percent: u32,
    /// Share of arcs with a finite capacity, in percent (the others get `total_supply`).
    pub capacitated_percent: u32,
    pub min_cap: i64,
    pub max_cap: i64,
}

impl NetgenParams {
    /// The NETGEN-8 family of Kovács (2015) and LEMON's benchmarks: `2^k` nodes, 8 arcs per
    /// node, `2^(k/2)` sources and sinks, 1,000 units of supply per source, costs in
    /// [1, 10,000], capacities in [1, 1,000], skeleton at maximum cost, everything capacitated.
    pub fn netgen8(k: u32, seed: u64) -> Self {
        let nodes = 1usize << k;
        let ends = 1usize << (k / 2);
        NetgenParams {
            seed,
            nodes,
            sources: ends,
            sinks: ends,
            arcs: 8 * nodes,
            min_cost: 1,
            max_cost: 10_000,
            total_supply: 1000 * ends as i64,
            hicost_percent: 100,
            capacitated_percent: 100,
            min_cap: 1,
            max_cap: 1000,
        }
    }

    fn check(&self) -> Result<(), InstanceError> {
        // The sizes of what DIMACS files may hold (see `dimacs`).
        if self.nodes > 100_000_000 || self.arcs > 1_000_000_000 {
            return Err(InstanceError::NetgenTooLarge);
        }
        if self.sources == 0
            || self.sinks == 0
            || self.sources.saturating_add(self.sinks) > self.nodes
        {
            return Err(InstanceError::NetgenEnds);
        }
        if self.total_supply < self.sources as i64 {
            return Err(InstanceError::NetgenSupply);
        }
        if self.min_cost > self.max_cost || self.min_cap > self.max_cap || self.min_cap < 0 {
            return Err(InstanceError::NetgenRanges);
        }
        Ok(())
    }
}

fn uniform(rng: &mut SplitMix64, lo: i64, hi: i64) -> i64 {
    lo + rng.int(0, (hi - lo) as u64) as i64
}

/// `total` split into `parts` positive integers at sorted random cut points.
fn split(rng: &mut SplitMix64, total: i64, parts: usize) -> Vec<i64> {
    let mut cuts: Vec<i64> = (1..parts)
        .map(|_| uniform(rng, 0, total - parts as i64))
        .collect();
    cuts.sort_unstable();
    let mut out = Vec::with_capacity(parts);
    let mut prev = 0;
    for c in cuts.into_iter().chain([total - parts as i64]) {
        out.push(c - prev + 1);
        prev = c;
    }
    out
}

/// A NETGEN-style network. Nodes `0..sources` supply, the last `sinks` demand, the rest
/// transship; arcs are grouped by tail, as NETGEN writes them.
pub fn netgen(p: &NetgenParams) -> Result<FlowProblem, InstanceError> {
    p.check()?;
    let mut rng = SplitMix64::new(p.seed);
    let n = p.nodes;
    let mut fp = FlowProblem::new(n);
    let first_sink = n - p.sinks;
    let supplies = split(&mut rng, p.total_supply, p.sources);
    // Skeleton: every transshipment node joins the chain of a random source; each chain ends in
    // a few random sinks that share its supply.
    let mut chains: Vec<Vec<usize>> = (0..p.sources).map(|s| vec![s]).collect();
    for t in p.sources..first_sink {
        let s = rng.int(0, p.sources as u64 - 1) as usize;
        chains[s].push(t);
    }
    let mut arcs: Vec<(usize, usize, i64, i64)> = Vec::with_capacity(p.arcs);
    let skeleton_cost = |rng: &mut SplitMix64| {
        if rng.int(0, 99) < p.hicost_percent as u64 {
            p.max_cost
        } else {
            uniform(rng, p.min_cost, p.max_cost)
        }
    };
    let fan_out = (2 * p.sinks / p.sources).max(1);
    for (s, chain) in chains.iter().enumerate() {
        let supply = supplies[s];
        fp.supply[s] = supply;
        for w in chain.windows(2) {
            let c = skeleton_cost(&mut rng);
            arcs.push((w[0], w[1], supply, c));
        }
        let end = *chain.last().unwrap_or(&s);
        let k = rng.int(1, fan_out as u64) as usize;
        let shares = split(&mut rng, supply + k as i64, k);
        for share in shares {
            let sink = first_sink + rng.int(0, p.sinks as u64 - 1) as usize;
            // Shares were drawn from supply + k so that each is >= 1 before taking one off.
            fp.supply[sink] -= share - 1;
            let c = skeleton_cost(&mut rng);
            arcs.push((end, sink, supply, c));
        }
    }
    // Random arcs, evenly spread over the tails.
    let random = p.arcs.saturating_sub(arcs.len());
    let uncapacitated = p.total_supply;
    for tail in 0..n {
        let count = random / n + usize::from(tail < random % n);
        for _ in 0..count {
            let mut head = rng.int(0, n as u64 - 2) as usize;
            if head >= tail {
                head += 1;
            }
            let cost = uniform(&mut rng, p.min_cost, p.max_cost);
            let cap = if rng.int(0, 99) < p.capacitated_percent as u64 {
                uniform(&mut rng, p.min_cap, p.max_cap)
            } else {
                uncapacitated
            };
            arcs.push((tail, head, cap, cost));
        }
    }
    arcs.sort_by_key(|a| a.0);
    for (u, v, cap, cost) in arcs {
        fp.add_arc(u, v, 0, cap, cost);
    }
    Ok(fp)
}

/// A crisis-transport network with the sites it was built from (km on a 100 x 100 square):
/// node `j < stations` is station `j`, node `stations + i` incident `i`, the last node the dummy.
#[derive(Debug, Clone, PartialEq)]
pub struct CrisisInstance {
    pub flow: FlowProblem,
    pub stations: Vec<(f64, f64)>,
    pub incidents: Vec<(f64, f64)>,
}

/// Most incident links of a crisis-transport instance: 20M took 1.6 GB at its peak (arcs,
/// the grid and the DIMACS text), so 10M stays under 1 GB.
pub const MAX_CRISIS_LINKS: usize = 10_000_000;

/// The crisis-transport shape: `stations` on a 100 x 100 km square supply teams (20% more than
/// needed in all), `incidents` demand 1 to 5 team units each and link to their `candidates`
/// nearest stations at a cost of tenths of a km; a dummy node absorbs the spare supply at cost
/// 0 so that supplies balance.
pub fn crisis_transport(
    stations: usize,
    incidents: usize,
    candidates: usize,
    seed: u64,
) -> Result<CrisisInstance, InstanceError> {
    if stations == 0 || incidents == 0 || candidates == 0 || candidates > stations {
        return Err(InstanceError::CrisisShape);
    }
    // Within what DIMACS files may hold (see `dimacs`), so no arithmetic below can overflow,
    // and within memory: 10^9 links asked for 40 GB and aborted on allocation.
    if stations.saturating_add(incidents) >= 100_000_000
        || incidents.saturating_mul(candidates) > MAX_CRISIS_LINKS
    {
        return Err(InstanceError::CrisisTooLarge);
    }
    let mut rng = SplitMix64::new(seed);
    let side = 100.0;
    let st: Vec<(f64, f64)> = (0..stations)
        .map(|_| (rng.range(0.0, side), rng.range(0.0, side)))
        .collect();
    let n = stations + incidents + 1;
    let dummy = n - 1;
    let mut fp = FlowProblem::new(n);
    // A grid of cells with about `candidates` stations each finds the nearest ones.
    let cells = ((stations as f64 / candidates as f64).sqrt().ceil() as usize).max(1);
    let cell_of = |x: f64| ((x / side * cells as f64) as usize).min(cells - 1);
    let mut grid: Vec<Vec<usize>> = vec![Vec::new(); cells * cells];
    for (j, &(x, y)) in st.iter().enumerate() {
        grid[cell_of(y) * cells + cell_of(x)].push(j);
    }
    let mut total = 0i64;
    let mut near: Vec<(f64, usize)> = Vec::new();
    let mut sites = Vec::with_capacity(incidents);
    for i in 0..incidents {
        let (x, y) = (rng.range(0.0, side), rng.range(0.0, side));
        sites.push((x, y));
        let demand = uniform(&mut rng, 1, 5);
        total += demand;
        fp.supply[stations + i] = -demand;
        let (cx, cy) = (cell_of(x) as isize, cell_of(y) as isize);
        // Grow the ring until it holds enough stations and the nearest `candidates` cannot lie
        // outside it (any station outside is at least `r` cells away).
        let width = side / cells as f64;
        let mut r = 0isize;
        loop {
            near.clear();
            for gy in (cy - r).max(0)..=(cy + r).min(cells as isize - 1) {
                for gx in (cx - r).max(0)..=(cx + r).min(cells as isize - 1) {
                    for &j in &grid[gy as usize * cells + gx as usize] {
                        let d = ((st[j].0 - x).powi(2) + (st[j].1 - y).powi(2)).sqrt();
                        near.push((d, j));
                    }
                }
            }
            let covered = r as usize >= cells;
            if near.len() >= candidates {
                near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                if covered || near[candidates - 1].0 <= r as f64 * width {
                    break;
                }
            }
            r += 1;
        }
        for &(d, j) in &near[..candidates] {
            fp.add_arc(j, stations + i, 0, demand, (d * 10.0).round() as i64);
        }
    }
    let spare = total / 5;
    for _ in 0..total + spare {
        let j = rng.int(0, stations as u64 - 1) as usize;
        fp.supply[j] += 1;
    }
    fp.supply[dummy] = -spare;
    for j in 0..stations {
        let s = fp.supply[j];
        fp.add_arc(j, dummy, 0, s, 0);
    }
    Ok(CrisisInstance {
        flow: fp,
        stations: st,
        incidents: sites,
    })
}

/// A complete `n x n` assignment with costs uniform in `[1, 10^6]`, row-major.
pub fn dense_assignment(n: usize, seed: u64) -> Vec<i64> {
    let mut rng = SplitMix64::new(seed);
    (0..n * n)
        .map(|_| uniform(&mut rng, 1, 1_000_000))
        .collect()
}

/// DIMACS min-cost flow text (`c` comment lines first, nodes and arcs numbered from 1).
pub fn write_min(fp: &FlowProblem, comments: &[String]) -> String {
    let mut out = String::with_capacity(24 * fp.arcs() + 64);
    for c in comments {
        let _ = writeln!(out, "c {c}");
    }
    let _ = writeln!(out, "p min {} {}", fp.nodes, fp.arcs());
    for (v, &s) in fp.supply.iter().enumerate() {
        if s != 0 {
            let _ = writeln!(out, "n {} {s}", v + 1);
        }
    }
    for a in 0..fp.arcs() {
        let _ = writeln!(
            out,
            "a {} {} {} {} {}",
            fp.source[a] + 1,
            fp.target[a] + 1,
            fp.lower[a],
            fp.upper[a],
            fp.cost[a]
        );
    }
    out
}

/// DIMACS assignment text for a complete `n x n` cost matrix: rows are nodes `1..=n`, columns
/// `n+1..=2n`.
pub fn write_asn(n: usize, cost: &[i64], comments: &[String]) -> String {
    let mut out = String::with_capacity(20 * n * n + 64);
    for c in comments {
        let _ = writeln!(out, "c {c}");
    }
    let _ = writeln!(out, "p asn {} {}", 2 * n, n * n);
    for i in 0..n {
        let _ = writeln!(out, "n {}", i + 1);
    }
    for i in 0..n {
        for j in 0..n {
            let _ = writeln!(out, "a {} {} {}", i + 1, n + j + 1, cost[i * n + j]);
        }
    }
    out
}

/// The multi-dimensional allocation workload: `resources` sites (capacity in `dims` dimensions
/// `d0, d1, ...`, a cost per unit served) and `needs` (demand in every dimension, priority 1-5)
/// scattered over a 100 x 100 km square around 52 N, 5 E, with a distance rule of
/// `max_distance_km` and a weighted objective. As a scenario JSON value; the links come from
/// the rules (see `Scenario::with_rule_built_links`).
pub fn allocation_value(
    needs: usize,
    resources: usize,
    dims: usize,
    max_distance_km: f64,
    seed: u64,
) -> serde_json::Value {
    use serde_json::json;
    let mut rng = SplitMix64::new(seed);
    // 100 km is ~0.9 degrees of latitude and ~1.46 of longitude at 52 N.
    let site = |rng: &mut SplitMix64| (52.0 + rng.range(0.0, 0.9), 5.0 + rng.range(0.0, 1.46));
    let dim = |d: usize| format!("d{d}");
    let rs: Vec<serde_json::Value> = (0..resources)
        .map(|i| {
            let (lat, lon) = site(&mut rng);
            let cap: serde_json::Map<String, serde_json::Value> = (0..dims)
                .map(|d| (dim(d), json!(uniform(&mut rng, 20, 200))))
                .collect();
            json!({"id": format!("r{i}"), "kind": "site", "lat": lat, "lon": lon,
                   "capacity": cap, "cost": uniform(&mut rng, 1, 20)})
        })
        .collect();
    let ns: Vec<serde_json::Value> = (0..needs)
        .map(|i| {
            let (lat, lon) = site(&mut rng);
            let dem: serde_json::Map<String, serde_json::Value> = (0..dims)
                .map(|d| (dim(d), json!(uniform(&mut rng, 1, 20))))
                .collect();
            json!({"id": format!("n{i}"), "kind": "site", "lat": lat, "lon": lon,
                   "demand": dem, "priority": uniform(&mut rng, 1, 5)})
        })
        .collect();
    json!({
        "name": format!("allocation_{needs}x{resources}x{dims}"),
        "resources": rs,
        "needs": ns,
        "policy": {"objective": "weighted", "cost_weight": 0.01, "max_distance_km": max_distance_km},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An instance past the links bound is refused before anything is allocated (the
    /// reviewer's 1,000 stations x 10^6 incidents x 1,000 candidates aborted on a 1 GB
    /// allocation after 91 s).
    #[test]
    fn a_crisis_instance_past_the_links_bound_is_refused_at_once() {
        assert!(matches!(
            crisis_transport(1000, 1_000_000, 11, 1),
            Err(InstanceError::CrisisTooLarge)
        ));
        assert_eq!(
            InstanceError::CrisisTooLarge.to_string(),
            "at most 10^8 stations and incidents, and 10000000 incident links"
        );
        assert!(crisis_transport(10, 100, 3, 1).is_ok());
    }

    #[test]
    fn instances_are_functions_of_their_seed() {
        let p = NetgenParams::netgen8(6, 3);
        let a = write_min(&netgen(&p).unwrap(), &[]);
        assert_eq!(a, write_min(&netgen(&p).unwrap(), &[]));
        assert_ne!(
            a,
            write_min(&netgen(&NetgenParams::netgen8(6, 4)).unwrap(), &[])
        );
        let c = crisis_transport(20, 50, 3, 1).unwrap();
        assert_eq!(c, crisis_transport(20, 50, 3, 1).unwrap());
        assert_eq!(dense_assignment(5, 9), dense_assignment(5, 9));
        assert_ne!(dense_assignment(5, 9), dense_assignment(5, 10));
        let v = allocation_value(30, 5, 2, 4.0, 2);
        assert_eq!(v, allocation_value(30, 5, 2, 4.0, 2));
    }

    #[test]
    fn instances_are_the_published_ones() {
        // The peer comparison's files are regenerated from these seeds: pin a few numbers.
        assert_eq!(&dense_assignment(3, 1), &PINNED_DENSE);
        let fp = netgen(&NetgenParams::netgen8(4, 1)).unwrap();
        assert_eq!((fp.nodes, fp.arcs()), (16, 128));
        assert_eq!(fp.cost.iter().sum::<i64>(), PINNED_NETGEN_COST);
    }

    const PINNED_DENSE: [i64; 9] = [
        822466, 428520, 890591, 780236, 968762, 530049, 867046, 60534, 356521,
    ];
    const PINNED_NETGEN_COST: i64 = 751_587;

    #[test]
    fn instances_balance_and_stay_in_range() {
        let fp = netgen(&NetgenParams::netgen8(5, 2)).unwrap();
        assert_eq!(fp.supply.iter().sum::<i64>(), 0);
        assert!(fp.cost.iter().all(|c| (1..=10_000).contains(c)));
        let c = crisis_transport(10, 40, 4, 2).unwrap();
        assert_eq!(c.flow.supply.iter().sum::<i64>(), 0);
        assert_eq!(c.flow.arcs(), 40 * 4 + 10);
        assert!(dense_assignment(4, 2)
            .iter()
            .all(|c| (1..=1_000_000).contains(c)));
        let no_sources = NetgenParams {
            sources: 0,
            ..NetgenParams::netgen8(4, 1)
        };
        assert_eq!(netgen(&no_sources), Err(InstanceError::NetgenEnds));
        assert_eq!(
            crisis_transport(2, 5, 3, 1).unwrap_err(),
            InstanceError::CrisisShape
        );
    }
}

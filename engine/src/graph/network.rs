//! The scenario in indexed form: links as compact edges, quantities in flat arrays.

use super::LinkBuilder;
use crate::model::Scenario;
use crate::timed::Bookings;
use std::collections::HashMap;

/// One link of the graph, by index into the scenario's resources and needs.
///
/// 24 bytes: rule-built networks hold tens of millions of these (20 million at 100 links per
/// need), and the memory they fill is a main cost of building them. So the indices are `u32` (a scenario of 2^32 rows would not fit in memory as
/// `Resource`s and `Need`s long before), an absent time is stored as NaN (validated inputs
/// are finite, so NaN never stands for a value), and the distance is not stored: it is a
/// property of the two sites, computed by [`distance`] for the few links a report shows.
#[derive(Clone, Copy)]
pub struct Edge {
    resource: u32,
    need: u32,
    /// Cost of serving the need in full through this link.
    pub cost: f64,
    time: f64,
}

impl Edge {
    pub fn new(resource: usize, need: usize, cost: f64, time: Option<f64>) -> Edge {
        let index = |i: usize| u32::try_from(i).expect("row index beyond u32 (cannot be held)");
        Edge {
            resource: index(resource),
            need: index(need),
            cost,
            time: time.unwrap_or(f64::NAN),
        }
    }

    /// Index of the resource.
    pub fn resource(&self) -> usize {
        self.resource as usize
    }

    /// Index of the need.
    pub fn need(&self) -> usize {
        self.need as usize
    }

    /// Travel/access time in hours, when known.
    pub fn time(&self) -> Option<f64> {
        (!self.time.is_nan()).then_some(self.time)
    }
}

impl PartialEq for Edge {
    fn eq(&self, other: &Edge) -> bool {
        (self.resource, self.need, self.cost, self.time())
            == (other.resource, other.need, other.cost, other.time())
    }
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("resource", &self.resource)
            .field("need", &self.need)
            .field("cost", &self.cost)
            .field("time", &self.time())
            .finish()
    }
}

/// The scenario in indexed form: dimensions by number, quantities in flat arrays.
#[derive(Debug, Clone)]
pub struct Network {
    pub dims: Vec<String>,
    /// `capacity[r * D + d]`.
    pub capacity: Vec<f64>,
    /// `demand[n * D + d]`.
    pub demand: Vec<f64>,
    pub edges: Vec<Edge>,
    /// `uses[e * D + d]`: capacity of the edge's resource used when its need is served in full.
    pub uses: Vec<f64>,
    /// Whether any link overrides its need's demand (SPEC's `use_e`).
    pub has_use_override: bool,
    /// SPEC's time model, when the scenario is timed ([`Scenario::is_timed`]).
    pub time: Option<TimeModel>,
}

/// The time model of a timed scenario: every edge is one (link, start) pair of SPEC's
/// `x_{e,s}`, links expanded into their usable starts in link order, then start order.
#[derive(Debug, Clone)]
pub struct TimeModel {
    /// Per edge: when it starts, and when its resource is free again.
    pub occupation: Vec<Occupation>,
    /// Per dimension: whether it is reusable (occupied over intervals) or consumable.
    pub reusable: Vec<bool>,
    /// Per resource and reusable dimension (`r * dims + d`): what a live session's confirmed
    /// bookings hold of it over time ([`crate::model::Hold`]), at most its capacity at any
    /// instant. Empty outside sessions.
    pub(crate) held: Vec<Bookings>,
}

/// When an edge of a timed scenario starts, and when the resource is free again after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Occupation {
    pub start: f64,
    pub end: f64,
}

impl Network {
    pub fn num_dims(&self) -> usize {
        self.dims.len()
    }

    pub fn edge_use(&self, e: usize) -> &[f64] {
        let d = self.dims.len();
        &self.uses[e * d..(e + 1) * d]
    }

    pub fn cap(&self, r: usize) -> &[f64] {
        let d = self.dims.len();
        &self.capacity[r * d..(r + 1) * d]
    }

    /// The start of edge `e`, in a timed scenario.
    pub fn start(&self, e: usize) -> Option<f64> {
        self.time.as_ref().map(|t| t.occupation[e].start)
    }

    pub fn dem(&self, n: usize) -> &[f64] {
        let d = self.dims.len();
        &self.demand[n * d..(n + 1) * d]
    }

    /// Index the scenario and build (or take) its links.
    pub fn build(s: &Scenario) -> Network {
        let dims = s.dimensions();
        let dim_index: HashMap<&str, usize> = dims
            .iter()
            .enumerate()
            .map(|(i, d)| (d.as_str(), i))
            .collect();
        let nd = dims.len();
        let mut capacity = vec![0.0; s.resources.len() * nd];
        for (i, r) in s.resources.iter().enumerate() {
            for (k, &v) in &r.capacity {
                capacity[i * nd + dim_index[k.as_str()]] = v;
            }
        }
        let mut demand = vec![0.0; s.needs.len() * nd];
        for (i, n) in s.needs.iter().enumerate() {
            for (k, &v) in &n.demand {
                demand[i * nd + dim_index[k.as_str()]] = v;
            }
        }
        let mut has_use_override = false;
        let (edges, uses) = match &s.links {
            Some(links) => {
                let rix: HashMap<&str, usize> = s
                    .resources
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r.id.as_str(), i))
                    .collect();
                let nix: HashMap<&str, usize> = s
                    .needs
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.id.as_str(), i))
                    .collect();
                let mut edges = Vec::with_capacity(links.len());
                let mut uses = Vec::with_capacity(links.len() * nd);
                for l in links {
                    let (r, n) = (rix[l.resource.as_str()], nix[l.need.as_str()]);
                    let start = uses.len();
                    uses.extend_from_slice(&demand[n * nd..(n + 1) * nd]);
                    for (k, &v) in &l.use_ {
                        let d = dim_index[k.as_str()];
                        if uses[start + d] != v {
                            has_use_override = true;
                        }
                        uses[start + d] = v;
                    }
                    edges.push(Edge::new(r, n, l.cost, l.time));
                }
                (edges, uses)
            }
            None => {
                let edges = LinkBuilder::new(&s.resources, &s.policy).build(&s.needs);
                let mut uses = Vec::with_capacity(edges.len() * nd);
                for e in &edges {
                    uses.extend_from_slice(&demand[e.need() * nd..(e.need() + 1) * nd]);
                }
                (edges, uses)
            }
        };
        let mut net = Network {
            dims,
            capacity,
            demand,
            edges,
            uses,
            has_use_override,
            time: None,
        };
        if s.is_timed() {
            net.expand_starts(s);
        }
        net
    }

    /// Replace each link by its usable starts (SPEC: `s >= available_from_r + time_e` and,
    /// when the resource has an end, `s + duration_h + turnaround_h <= available_until_r`). A
    /// link without a usable start is dropped: for a need with a duration, link rule 5 is
    /// "some start is usable". A need without a duration keeps its link with one start at
    /// `earliest` (absent = 0) and occupies the reusable dimensions from then on.
    fn expand_starts(&mut self, s: &Scenario) {
        let nd = self.dims.len();
        let slot = s.policy.slot();
        let mut edges = Vec::with_capacity(self.edges.len());
        let mut uses = Vec::with_capacity(self.uses.len());
        let mut occupation = Vec::with_capacity(self.edges.len());
        for (e, edge) in self.edges.iter().enumerate() {
            let (r, n) = (&s.resources[edge.resource()], &s.needs[edge.need()]);
            if n.duration_h.is_none() {
                edges.push(*edge);
                uses.extend_from_slice(&self.uses[e * nd..(e + 1) * nd]);
                occupation.push(Occupation {
                    start: n.earliest.unwrap_or(0.0),
                    end: f64::INFINITY,
                });
                continue;
            }
            let ready = super::rules::ready_at(r, edge.time(), &s.policy);
            for (start, end) in super::rules::usable_starts(r, n, ready, slot, s.policy.now_h) {
                edges.push(*edge);
                uses.extend_from_slice(&self.uses[e * nd..(e + 1) * nd]);
                occupation.push(Occupation { start, end });
            }
        }
        self.edges = edges;
        self.uses = uses;
        let reusable: Vec<bool> = self
            .dims
            .iter()
            .map(|d| s.policy.reusable.contains(d))
            .collect();
        let mut held = vec![Bookings::default(); s.resources.len() * nd];
        for (ri, r) in s.resources.iter().enumerate() {
            for (d, dim) in self.dims.iter().enumerate().filter(|&(d, _)| reusable[d]) {
                if !r.holds.is_empty() {
                    held[ri * nd + d] = Bookings::held(&r.holds, dim, self.capacity[ri * nd + d]);
                }
            }
        }
        self.time = Some(TimeModel {
            occupation,
            reusable,
            held,
        });
    }
}

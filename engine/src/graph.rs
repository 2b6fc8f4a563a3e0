//! The need -> resource graph: explicit links or links built by SPEC's rules, in a compact
//! indexed form, and its split into connected components.
//!
//! Rule-building never compares every pair when coordinates and a radius are given: resources
//! are bucketed by kind, and each bucket's located resources sit in a static 3-d k-d tree over
//! unit vectors, queried with the chord length of the radius (slightly widened). Every
//! candidate is then checked with the same haversine test as the all-pairs definition, so the
//! result equals [`LinkBuilder::all_pairs`] exactly (a property test checks it).

use crate::model::{Need, Policy, Resource, Scenario};
use petgraph::unionfind::UnionFind;
use rayon::prelude::*;
use std::collections::HashMap;

/// Mean Earth radius (km), as SPEC section 2 fixes it.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in km.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

pub fn distance(r: &Resource, n: &Need) -> Option<f64> {
    match (r.lat, r.lon, n.lat, n.lon) {
        (Some(a), Some(b), Some(c), Some(d)) => Some(haversine_km(a, b, c, d)),
        _ => None,
    }
}

/// One link of the graph, by index into the scenario's resources and needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub resource: usize,
    pub need: usize,
    /// Cost of serving the need in full through this link.
    pub cost: f64,
    /// Travel/access time in hours, when known.
    pub time: Option<f64>,
    /// Great-circle distance, when both ends have coordinates.
    pub distance_km: Option<f64>,
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
                    edges.push(Edge {
                        resource: r,
                        need: n,
                        cost: l.cost,
                        time: l.time,
                        distance_km: distance(&s.resources[r], &s.needs[n]),
                    });
                }
                (edges, uses)
            }
            None => {
                let edges = LinkBuilder::new(&s.resources, &s.policy).build(&s.needs);
                let mut uses = Vec::with_capacity(edges.len() * nd);
                for e in &edges {
                    uses.extend_from_slice(&demand[e.need * nd..(e.need + 1) * nd]);
                }
                (edges, uses)
            }
        };
        Network {
            dims,
            capacity,
            demand,
            edges,
            uses,
            has_use_override,
        }
    }
}

/// Why SPEC's link rules exclude a pair: the first rule (in SPEC order) that fails.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Excluded {
    /// Rule 1: the kinds differ.
    Kind {
        resource_kind: String,
        need_kind: String,
    },
    /// Rule 6: other community and `cross_community` is false.
    Community {
        resource_community: String,
        need_community: String,
    },
    /// Rule 2: skills the resource lacks.
    Skills { missing: Vec<String> },
    /// Rule 3: no capacity left in a demanded dimension.
    Capacity { dimension: String },
    /// Rule 4: beyond `max_distance_km`.
    Distance {
        distance_km: f64,
        max_distance_km: f64,
    },
    /// Rule 5: cannot arrive before the deadline.
    Deadline { arrival_h: f64, deadline_h: f64 },
    /// Rule 5: the resource is gone before the need starts.
    Window {
        available_until_h: f64,
        earliest_h: f64,
    },
}

impl std::fmt::Display for Excluded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Excluded::Kind { resource_kind, need_kind } => {
                write!(f, "kind {resource_kind} does not serve kind {need_kind}")
            }
            Excluded::Community { resource_community, need_community } => write!(
                f,
                "community {resource_community} does not serve {need_community} (cross_community is false)"
            ),
            Excluded::Skills { missing } => write!(f, "lacks skills {}", missing.join(", ")),
            Excluded::Capacity { dimension } => write!(f, "no {dimension} capacity left"),
            Excluded::Distance { distance_km, max_distance_km } => write!(
                f,
                "{distance_km:.2} km away, beyond max_distance_km {max_distance_km}"
            ),
            Excluded::Deadline { arrival_h, deadline_h } => write!(
                f,
                "arrives at hour {arrival_h:.2}, after the deadline at hour {deadline_h}"
            ),
            Excluded::Window { available_until_h, earliest_h } => write!(
                f,
                "available until hour {available_until_h}, before the need starts at hour {earliest_h}"
            ),
        }
    }
}

/// SPEC's link rules for one pair: `Some(edge)` iff the link exists.
pub fn rule_link(ri: usize, r: &Resource, ni: usize, n: &Need, policy: &Policy) -> Option<Edge> {
    check_link(ri, r, ni, n, policy).ok()
}

/// SPEC's link rules for one pair: the edge, or the first rule that excludes it.
pub fn check_link(
    ri: usize,
    r: &Resource,
    ni: usize,
    n: &Need,
    policy: &Policy,
) -> Result<Edge, Excluded> {
    if r.kind != n.kind {
        return Err(Excluded::Kind {
            resource_kind: r.kind.clone(),
            need_kind: n.kind.clone(),
        });
    }
    if !policy.cross_community && r.community != n.community {
        return Err(Excluded::Community {
            resource_community: r.community.clone(),
            need_community: n.community.clone(),
        });
    }
    if !n.required_skills.is_subset(&r.skills) {
        return Err(Excluded::Skills {
            missing: n.required_skills.difference(&r.skills).cloned().collect(),
        });
    }
    // Both maps are sorted by dimension: one merge walk instead of a tree lookup per
    // dimension (this check runs for every candidate pair of the link builder).
    let mut caps = r.capacity.iter().peekable();
    for (dim, &q) in &n.demand {
        while caps.next_if(|(c, _)| c.as_str() < dim.as_str()).is_some() {}
        let cap = match caps.peek() {
            Some((c, &v)) if *c == dim => v,
            _ => 0.0,
        };
        if q > 0.0 && cap <= 0.0 {
            return Err(Excluded::Capacity {
                dimension: dim.clone(),
            });
        }
    }
    let dist = distance(r, n);
    if let (Some(d), Some(max)) = (dist, policy.max_distance_km) {
        if d > max {
            return Err(Excluded::Distance {
                distance_km: d,
                max_distance_km: max,
            });
        }
    }
    let time = match (dist, policy.speed_kmh) {
        (Some(d), Some(v)) => Some(d / v),
        _ => None,
    };
    let t = time.unwrap_or(0.0);
    if let Some(deadline) = n.deadline {
        let arrival = r.available_from.unwrap_or(0.0) + t;
        if arrival > deadline {
            return Err(Excluded::Deadline {
                arrival_h: arrival,
                deadline_h: deadline,
            });
        }
    }
    if let (Some(until), Some(earliest)) = (r.available_until, n.earliest) {
        if until < earliest {
            return Err(Excluded::Window {
                available_until_h: until,
                earliest_h: earliest,
            });
        }
    }
    Ok(Edge {
        resource: ri,
        need: ni,
        cost: r.cost + policy.cost_per_km * dist.unwrap_or(0.0),
        time,
        distance_km: dist,
    })
}

fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (p, l) = (lat.to_radians(), lon.to_radians());
    [p.cos() * l.cos(), p.cos() * l.sin(), p.sin()]
}

/// A static 3-d k-d tree (implicit, median-split) over points on the unit sphere.
struct KdTree {
    points: Vec<[f64; 3]>,
    /// Resource index of each point.
    ids: Vec<usize>,
}

const KD_LEAF: usize = 12;

impl KdTree {
    fn new(mut items: Vec<([f64; 3], usize)>) -> KdTree {
        fn split(items: &mut [([f64; 3], usize)], depth: usize) {
            if items.len() <= KD_LEAF {
                return;
            }
            let axis = depth % 3;
            let mid = items.len() / 2;
            items.select_nth_unstable_by(mid, |a, b| a.0[axis].total_cmp(&b.0[axis]));
            let (lo, hi) = items.split_at_mut(mid);
            split(lo, depth + 1);
            split(&mut hi[1..], depth + 1);
        }
        split(&mut items, 0);
        KdTree {
            points: items.iter().map(|x| x.0).collect(),
            ids: items.iter().map(|x| x.1).collect(),
        }
    }

    /// Push every id within Euclidean distance sqrt(`r2`) of `q`.
    fn within(&self, q: &[f64; 3], r2: f64, out: &mut Vec<usize>) {
        self.within_range(0, self.points.len(), 0, q, r2, out);
    }

    fn within_range(
        &self,
        lo: usize,
        hi: usize,
        depth: usize,
        q: &[f64; 3],
        r2: f64,
        out: &mut Vec<usize>,
    ) {
        let d2 =
            |p: &[f64; 3]| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2);
        if hi - lo <= KD_LEAF {
            for i in lo..hi {
                if d2(&self.points[i]) <= r2 {
                    out.push(self.ids[i]);
                }
            }
            return;
        }
        let axis = depth % 3;
        let mid = lo + (hi - lo) / 2;
        let p = &self.points[mid];
        if d2(p) <= r2 {
            out.push(self.ids[mid]);
        }
        let diff = q[axis] - p[axis];
        let (near, far) = if diff <= 0.0 {
            ((lo, mid), (mid + 1, hi))
        } else {
            ((mid + 1, hi), (lo, mid))
        };
        self.within_range(near.0, near.1, depth + 1, q, r2, out);
        if diff * diff <= r2 {
            self.within_range(far.0, far.1, depth + 1, q, r2, out);
        }
    }
}

/// Resources of one kind, indexed for radius queries.
struct KindBucket {
    all: Vec<usize>,
    unlocated: Vec<usize>,
    tree: KdTree,
}

/// Builds links by SPEC's rules, through a spatial index, in parallel over needs.
pub struct LinkBuilder<'a> {
    resources: &'a [Resource],
    policy: &'a Policy,
    buckets: HashMap<&'a str, KindBucket>,
}

impl<'a> LinkBuilder<'a> {
    pub fn new(resources: &'a [Resource], policy: &'a Policy) -> Self {
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, r) in resources.iter().enumerate() {
            groups.entry(r.kind.as_str()).or_default().push(i);
        }
        let buckets = groups
            .into_iter()
            .map(|(kind, all)| {
                let mut located = Vec::new();
                let mut unlocated = Vec::new();
                for &i in &all {
                    match (resources[i].lat, resources[i].lon) {
                        (Some(a), Some(b)) => located.push((unit_vector(a, b), i)),
                        _ => unlocated.push(i),
                    }
                }
                let tree = KdTree::new(located);
                (
                    kind,
                    KindBucket {
                        all,
                        unlocated,
                        tree,
                    },
                )
            })
            .collect();
        LinkBuilder {
            resources,
            policy,
            buckets,
        }
    }

    fn links_of<'s>(&'s self, ni: usize, n: &'s Need) -> impl Iterator<Item = Edge> + 's {
        let candidates = self.candidates(n);
        candidates
            .into_iter()
            .filter_map(move |ri| rule_link(ri, &self.resources[ri], ni, n, self.policy))
    }

    /// The resources of the need's kind that may lie within the distance rule (all of them
    /// without one), in input order.
    fn candidates(&self, n: &Need) -> Vec<usize> {
        let Some(bucket) = self.buckets.get(n.kind.as_str()) else {
            return Vec::new();
        };
        match (n.lat, n.lon, self.policy.max_distance_km) {
            (Some(lat), Some(lon), Some(max_km)) => {
                // Chord length of the radius, widened so rounding can only add candidates;
                // the exact haversine test in `rule_link` decides.
                let angle = (max_km / EARTH_RADIUS_KM).min(std::f64::consts::PI);
                let chord = 2.0 * (angle / 2.0).sin() * (1.0 + 1e-9) + 1e-12;
                let mut out = bucket.unlocated.clone();
                bucket
                    .tree
                    .within(&unit_vector(lat, lon), chord * chord, &mut out);
                out.sort_unstable();
                out
            }
            _ => bucket.all.clone(),
        }
    }

    /// Links of every need, ordered by need then resource (input order).
    pub fn build(&self, needs: &[Need]) -> Vec<Edge> {
        // Straight into the output (rayon keeps the order): no vector per need to copy again.
        needs
            .par_iter()
            .enumerate()
            .with_min_len(256)
            .flat_map_iter(|(ni, n)| self.links_of(ni, n))
            .collect()
    }

    /// The definition itself, every pair compared: the reference for tests and benches.
    pub fn all_pairs(resources: &[Resource], needs: &[Need], policy: &Policy) -> Vec<Edge> {
        let mut out = Vec::new();
        for (ni, n) in needs.iter().enumerate() {
            for (ri, r) in resources.iter().enumerate() {
                if let Some(e) = rule_link(ri, r, ni, n, policy) {
                    out.push(e);
                }
            }
        }
        out
    }
}

/// A connected part of the need-resource graph with at least one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub needs: Vec<usize>,
    pub resources: Vec<usize>,
    pub edges: Vec<usize>,
}

/// Split the linked part of the graph into connected components, ordered by their first need.
pub fn components(num_resources: usize, num_needs: usize, edges: &[Edge]) -> Vec<Component> {
    let mut uf = UnionFind::<usize>::new(num_resources + num_needs);
    for e in edges {
        uf.union(e.resource, num_resources + e.need);
    }
    let mut by_root: HashMap<usize, usize> = HashMap::new();
    let mut comps: Vec<Component> = Vec::new();
    let mut need_has_edge = vec![false; num_needs];
    let mut res_has_edge = vec![false; num_resources];
    for e in edges {
        need_has_edge[e.need] = true;
        res_has_edge[e.resource] = true;
    }
    for (n, _) in need_has_edge.iter().enumerate().filter(|(_, &h)| h) {
        let root = uf.find(num_resources + n);
        let next = comps.len();
        let c = *by_root.entry(root).or_insert(next);
        if c == next {
            comps.push(Component {
                needs: Vec::new(),
                resources: Vec::new(),
                edges: Vec::new(),
            });
        }
        comps[c].needs.push(n);
    }
    for (r, _) in res_has_edge.iter().enumerate().filter(|(_, &h)| h) {
        let c = by_root[&uf.find(r)];
        comps[c].resources.push(r);
    }
    for (i, e) in edges.iter().enumerate() {
        let c = by_root[&uf.find(e.resource)];
        comps[c].edges.push(i);
    }
    comps
}

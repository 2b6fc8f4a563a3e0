//! Warm re-planning of a transportation session: the whole residual scenario kept as one
//! min-cost flow ([`IncrementalFlow`]) that each batch of events changes in place and
//! re-optimises from the last optimum, instead of solving the touched components again.
//!
//! It applies where a cold re-plan would take the exact transportation route for every
//! component (SPEC's transportation case: one dimension, no fairness or max-min over one
//! group, no time model, `solver: auto`, objective `coverage` or `cost`, no indivisible need)
//! and the data scale to one set of exact integers for the whole session ([`Scales`]). The
//! network is the cold route's (`transport.rs`): source -> resource (residual capacity),
//! resource -> need (one arc per link), need -> sink (`min_fill * demand ..= demand`),
//! sink -> source; the components of the session are simply disconnected parts of it. The
//! lexicographic objective (most value, then cheapest) is one cost `M * value + money` with
//! `M` sized for twice the nodes and four times the largest costs, so that later events
//! rarely outgrow it.
//!
//! What the warm path does not keep, and why:
//! - Duals (marginal values, shadow prices) are not maintained per event: a cold solve of the
//!   residual scenario gives them when a report or an explanation asks (`Session::duals`),
//!   which a coordinator's event answer does not.
//! - Among several optimal plans it may keep another than a from-scratch solve would take;
//!   value and cost are the same (tested).
//! - What it cannot take exactly (a value that leaves the scales, `M` or the node budget, an
//!   indivisible need, a `min_fill` that cannot hold) makes it build itself anew from the
//!   whole state, with fresh scales (one cold solve). When that refuses too, the session
//!   re-plans cold: for an open indivisible need until none is open (`Session::warm_due`:
//!   the first re-plan point after that builds the warm model again), for values from then
//!   on (`Session::warm_off`), as before this path existed.

use super::Session;
use crate::graph::rule_link;
use crate::model::{Fairness, Need, Objective, Resource, SolverChoice};
use crate::results::Report;
use crate::route::{decimal_scale, gcd, scaled, COST_ROUNDING, MAX_LCM};
use crate::solve::{solve_with, SolveOptions};
use commonsnet_solvers::{
    lexicographic_weight, FlowProblem, IncrementalFlow, NetworkSimplex, Reoptimized, INFINITE,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The scale of priorities: open parts' priorities are multiples of 1e-6.
const PRIORITY_SCALE: i64 = 1_000_000;

/// Why the warm model cannot take the session as it is now; the session goes cold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WarmRefusal {
    /// Not SPEC's transportation case (dimensions, fairness, time, solver, objective, an
    /// open indivisible need).
    Shape,
    /// An open need's or a resource's quantity or priority that does not scale to one set
    /// of exact integers: it leaves with the need that holds it (`Session::warm_due`).
    Quantities,
    /// A link cost, or the lexicographic weight, that does not scale.
    Scale,
    /// The flow solver refused or found no feasible flow.
    Flow,
}

/// The numbers of an open need's open part that the session's scales take (of the warm
/// model's one dimension).
struct NeedTerms {
    demand: f64,
    min_fill: f64,
    priority: f64,
}

/// The integers of the whole session: quantities times `quantity`; per-unit values and
/// costs times `lcm` (of the scaled demands) and `priority` or `cost`; `m` the lexicographic
/// weight, valid up to `max_nodes` nodes and costs up to `max_value` / `max_money`.
#[derive(Debug, Clone, Copy)]
struct Scales {
    quantity: i64,
    lcm: i64,
    cost: i64,
    /// `cost` is [`COST_ROUNDING`] because some link cost is not a short decimal: link costs
    /// are rounded, as on the cold route.
    cost_rounded: bool,
    priority: i64,
    m: i128,
    max_nodes: usize,
    max_value: i128,
    max_money: i128,
    coverage: bool,
}

#[derive(Debug, Clone)]
struct NeedEntry {
    node: usize,
    /// need -> sink.
    arc: usize,
    /// The scaled demand of the open part (the flow of a full service).
    demand: i64,
    /// The need and its open part as last synced: an unchanged need keeps its arcs.
    def: Need,
    open: f64,
    /// (resource slot, link arc), sorted by slot.
    links: Vec<(u32, u32)>,
}

#[derive(Debug, Clone)]
struct ResEntry {
    node: usize,
    /// source -> resource.
    arc: usize,
    def: Resource,
    /// (need slot, link arc), in no order: [`WarmFlow::link_at`] finds an arc's place.
    links: Vec<(u32, u32)>,
}

/// The session's flow model (see the module documentation).
#[derive(Debug, Clone)]
pub(super) struct WarmFlow {
    flow: IncrementalFlow,
    scales: Scales,
    dim: String,
    need_slot: HashMap<String, u32>,
    needs: Vec<Option<NeedEntry>>,
    need_ids: Vec<String>,
    res_slot: HashMap<String, u32>,
    resources: Vec<Option<ResEntry>>,
    res_ids: Vec<String>,
    /// Each arc's (resource slot, need slot) when it is a link.
    arc_link: Vec<Option<(u32, u32)>>,
    /// Each link arc's place in its resource's `links`: a need closed or unlinked leaves a
    /// resource of thousands of links in O(1) instead of a scan of them.
    link_at: Vec<u32>,
    /// Links dropped since the last re-plan, whose plan entries go.
    dropped: Vec<(u32, u32)>,
    /// What the last re-optimisation did (searches, nodes settled): for benches.
    last: Reoptimized,
}

impl Session {
    /// Whether the session was made or rebuilt to re-plan warm (`Session::new_warm`), whatever
    /// it holds now: among tied optima its plan may differ from a cold session's.
    pub fn warm_mode(&self) -> bool {
        self.warm_on
    }

    /// Whether the session re-plans warm: a transportation session whose data the warm
    /// model (`session/warm.rs`) has taken so far, or a session whose LP stages start from
    /// the last re-plan's bases (`lp/start.rs`). Its plan is an optimum that depends on where
    /// the re-plans fell, so its replay re-plans at the same points.
    pub fn is_warm(&self) -> bool {
        self.warm.is_some() || self.lp_starts.is_some()
    }

    /// The LP basis statuses the session keeps for its next re-plan (0 when it keeps none).
    pub fn kept_lp_statuses(&self) -> usize {
        self.lp_starts.as_ref().map_or(0, crate::lp::LpStarts::len)
    }

    /// What the last warm re-plan's re-optimisation did (shortest-path searches, nodes
    /// settled), when the session is warm: the work an event cost, for benches.
    pub fn warm_work(&self) -> Option<Reoptimized> {
        self.warm.as_ref().map(|w| w.last)
    }

    /// Whether the policy and dimensions are SPEC's transportation case (the needs are
    /// checked as they come: an indivisible one ends the warm path). A max-min rule over the
    /// open needs' one group is (`Policy::fairness_implied`) in a session that keeps LP
    /// bases: such a session replays every logged re-plan point whichever model it is on, so
    /// its replay rebuilds the warm flow where the live one did; a need of a second group ends
    /// the warm model at the next re-plan, which re-plans the whole session on the LP. A
    /// leximin session keeps no bases (its replay re-plans once, at the end) and stays cold.
    /// `coupled`: [`Session::couples_groups`], which the caller has at hand.
    pub(super) fn warm_shape(&self, coupled: bool) -> bool {
        let p = &self.policy;
        let fairness = p.fairness == Fairness::None || (self.lp_starts.is_some() && !coupled);
        !self.timed
            && p.solver == SolverChoice::Auto
            && fairness
            // Not `cost`: it leaves V free, and the flow's free arcs kept flow a cold solve
            // drops (a `min_fill` once met), so the plan's V would hang on where re-plans
            // fell and differ from a from-scratch solve's.
            && p.objective == Objective::Coverage
            && self.dims.len() == 1
    }

    /// A warm session off the warm model only for what its open needs held (an indivisible
    /// need, a quantity or priority off the scales: `WarmRefusal::Shape` and `Quantities`),
    /// now that no open need holds it: its next re-plan point builds the model again
    /// (`replan_touched`, and `replay` at the same logged point: the state alone decides it).
    pub(super) fn warm_due(&self, coupled: bool) -> bool {
        if !self.warm_on || self.warm_off || self.warm.is_some() || !self.warm_shape(coupled) {
            return false;
        }
        let Some(dim) = self.dims.iter().next() else {
            return false;
        };
        // At every re-plan point of such a session, live and in a replay: the open parts'
        // numbers only, no residual need built.
        let open = (0..self.needs.len()).filter(|&i| self.is_open(i));
        if open.clone().any(|i| self.needs[i].indivisible) {
            return false;
        }
        let terms: Vec<NeedTerms> = open
            .map(|i| NeedTerms {
                demand: self.residual_demand(i, dim),
                min_fill: self.residual_min_fill(i),
                priority: self.residual_priority(i),
            })
            .collect();
        self.quantity_scales(dim, &terms).is_ok()
    }

    /// Build the warm model from the whole residual state and solve it cold; the plan is
    /// replaced by its optimum. Returns the number of needs planned.
    pub(super) fn warm_build(&mut self) -> Result<usize, WarmRefusal> {
        let dim = self.dims.iter().next().ok_or(WarmRefusal::Shape)?.clone();
        let open: Vec<usize> = (0..self.needs.len()).filter(|&i| self.is_open(i)).collect();
        let needs: Vec<Need> = open.iter().map(|&i| self.residual_need(i)).collect();
        if needs.iter().any(|n| n.indivisible) {
            return Err(WarmRefusal::Shape);
        }
        // Each link's edge cost, in the order the arcs are built below: the scales read them
        // all, and the arcs take theirs (the link rules run once per link).
        let this = &*self;
        let edge_costs: Vec<f64> = open
            .iter()
            .zip(&needs)
            .flat_map(|(&ni, n)| {
                this.adj_need[ni].iter().map(move |r| {
                    let ri = r as usize;
                    rule_link(ri, &this.residual[ri], ni, n, &this.policy)
                        .map(|e| e.cost)
                        .ok_or(WarmRefusal::Flow)
                })
            })
            .collect::<Result<_, _>>()?;
        let scales = self.scales(&dim, &needs, &edge_costs)?;
        let mut edge_cost = edge_costs.iter();
        let res_ids: Vec<String> = self.resources.iter().map(|r| r.id.clone()).collect();
        let res_slot: HashMap<String, u32> = res_ids
            .iter()
            .enumerate()
            .map(|(i, r)| (r.clone(), i as u32))
            .collect();
        let need_ids: Vec<String> = needs.iter().map(|n| n.id.clone()).collect();
        let need_slot: HashMap<String, u32> = need_ids
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        let (nr, nn) = (res_ids.len(), needs.len());
        let mut p = FlowProblem::new(2 + nr + nn);
        let mut cost: Vec<i128> = Vec::new();
        let mut arc_link = Vec::new();
        let mut resources = Vec::with_capacity(nr);
        for (i, r) in self.residual.iter().enumerate() {
            let cap = scale_exact(r.capacity.get(&dim).copied().unwrap_or(0.0), &scales)?;
            let arc = p.add_arc(0, 2 + i, 0, cap, 0);
            cost.push(0);
            arc_link.push(None);
            resources.push(Some(ResEntry {
                node: 2 + i,
                arc,
                def: r.clone(),
                links: Vec::new(),
            }));
        }
        let mut entries = Vec::with_capacity(nn);
        for (k, (&ni, n)) in open.iter().zip(&needs).enumerate() {
            let (demand, lo) = need_bounds(n, &dim, &scales)?;
            let node = 2 + nr + k;
            let arc = p.add_arc(node, 1, lo, demand, 0);
            cost.push(0);
            arc_link.push(None);
            let mut links = Vec::new();
            // Slots are the resources' indices (`res_ids` above).
            for rs in &self.adj_need[ni] {
                let edge = *edge_cost.next().ok_or(WarmRefusal::Flow)?;
                let c = arc_cost(edge, n, demand, &scales)?;
                let a = p.add_arc(2 + rs as usize, node, 0, INFINITE, 0);
                cost.push(c);
                arc_link.push(Some((rs, k as u32)));
                links.push((rs, a as u32));
                if let Some(e) = resources[rs as usize].as_mut() {
                    e.links.push((k as u32, a as u32));
                }
            }
            links.sort_unstable();
            entries.push(Some(NeedEntry {
                node,
                arc,
                demand,
                def: self.needs[ni].clone(),
                open: self.open[ni],
                links,
            }));
        }
        p.add_arc(1, 0, 0, INFINITE, 0);
        cost.push(0);
        arc_link.push(None);
        let sol = NetworkSimplex::solve_with_costs(&p, &cost).map_err(|_| WarmRefusal::Flow)?;
        let flow = IncrementalFlow::from_optimum(&p, cost, sol.flow, sol.potential)
            .map_err(|_| WarmRefusal::Flow)?;
        let mut warm = WarmFlow {
            flow,
            scales,
            dim,
            need_slot,
            needs: entries,
            need_ids,
            res_slot,
            resources,
            res_ids,
            // With a quarter's room to grow, as the flow's arc arrays have.
            link_at: {
                let mut at = vec![0; arc_link.len()];
                at.reserve(arc_link.len() / 4);
                at
            },
            arc_link,
            dropped: Vec::new(),
            last: Reoptimized::default(),
        };
        for e in warm.resources.iter().flatten() {
            for (k, &(_, a)) in e.links.iter().enumerate() {
                warm.link_at[a as usize] = k as u32;
            }
        }
        warm.flow.take_changed();
        // The whole plan is this optimum's.
        let keys: Vec<(String, String)> = self.plan.keys().cloned().collect();
        for k in keys {
            self.plan_set(k, None);
        }
        for a in 0..warm.arc_link.len() {
            if warm.flow.flow(a) > 0 {
                warm.write_plan(self, a);
            }
        }
        self.warm_done();
        let planned = warm.needs.len();
        self.warm = Some(warm);
        Ok(planned)
    }

    /// Apply what the events since the last re-plan touched to the warm model and
    /// re-optimise it. Returns the number of needs whose matches it revisited.
    /// `cleared`: the needs and resources whose plan entries an event removed (a dispatch, a
    /// withdrawal), written again even when they end as the model last saw them (a dispatch
    /// released, an entity withdrawn and added back unchanged).
    pub(super) fn warm_replan(
        &mut self,
        tn: &BTreeSet<String>,
        tr: &BTreeSet<String>,
        cleared: &(BTreeSet<String>, BTreeSet<String>),
        relinked: &HashSet<String>,
    ) -> Result<usize, WarmRefusal> {
        let mut warm = self.warm.take().ok_or(WarmRefusal::Shape)?;
        let mut resync: BTreeSet<u32> = BTreeSet::new();
        // A withdrawn need or resource is not among the touched ones (its neighbours are):
        // whatever the model holds that the session no longer has goes too. Only a
        // withdrawal takes an id out of the session, and it clears the id's plan entries, so
        // the ids gone are among the cleared ones.
        // Sorted: the order of syncs can change which optimum the flow reaches, and a replay
        // of the log must reach the same one (hash order differs between processes).
        let mut gone_res: Vec<String> = cleared
            .1
            .iter()
            .filter(|r| warm.res_slot.contains_key(*r) && !self.res_ix.contains_key(*r))
            .cloned()
            .collect();
        let mut gone_needs: Vec<String> = cleared
            .0
            .iter()
            .filter(|n| warm.need_slot.contains_key(*n) && !self.need_ix.contains_key(*n))
            .cloned()
            .collect();
        gone_res.sort_unstable();
        gone_needs.sort_unstable();
        // Resources first: a need synced after them links to every resource it should.
        for r in tr.iter().chain(&gone_res) {
            warm.sync_resource(self, r, relinked.contains(r), &mut resync)?;
        }
        for n in tn.iter().chain(&gone_needs) {
            warm.sync_need(self, n, &mut resync)?;
        }
        warm.last = warm.flow.reoptimize().map_err(|_| WarmRefusal::Flow)?;
        for (rs, ns) in std::mem::take(&mut warm.dropped) {
            let key = (
                warm.res_ids[rs as usize].clone(),
                warm.need_ids[ns as usize].clone(),
            );
            if self.plan.contains_key(&key) {
                self.plan_set(key, None);
            }
        }
        // Sorted, for the look-ups of the need resync below.
        let mut changed = warm.flow.take_changed();
        changed.sort_unstable();
        let mut revisited: BTreeSet<u32> = resync.clone();
        for &a in &changed {
            if let Some((_, ns)) = warm.arc_link[a] {
                revisited.insert(ns);
                if !resync.contains(&ns) {
                    warm.write_plan(self, a);
                }
            }
        }
        for n in &cleared.0 {
            if let Some(&ns) = warm.need_slot.get(n) {
                resync.insert(ns);
            }
        }
        for r in &cleared.1 {
            let arcs: Vec<u32> = warm
                .res_slot
                .get(r)
                .and_then(|&rs| warm.resources[rs as usize].as_ref())
                .map(|e| e.links.iter().map(|&(_, a)| a).collect())
                .unwrap_or_default();
            for a in arcs {
                warm.write_plan(self, a as usize);
            }
        }
        // A need whose open part changed has every share changed (shares are of that part):
        // its links that carry flow, and those whose flow changed. A link without flow before
        // or after has no plan entry, and a need has thousands of them in a dense session.
        for &ns in &resync {
            let arcs: Vec<u32> = warm.needs[ns as usize]
                .as_ref()
                .map(|e| e.links.iter().map(|&(_, a)| a).collect())
                .unwrap_or_default();
            for a in arcs {
                let a = a as usize;
                if warm.flow.flow(a) > 0 || changed.binary_search(&a).is_ok() {
                    warm.write_plan(self, a);
                }
            }
        }
        self.warm_done();
        self.warm = Some(warm);
        Ok(revisited.len())
    }

    /// After a warm re-plan: every component is optimal, and the duals are a cold solve's,
    /// worked out when asked.
    fn warm_done(&mut self) {
        self.trouble.clear();
        self.gaps.clear();
        self.marginal.clear();
        self.shadow.clear();
        self.duals_cache = std::sync::OnceLock::new();
    }

    /// The session-wide exact scales, or where a value does not scale, `Quantities` (of
    /// needs and resources, [`Session::quantity_scales`]) or `Scale` (link costs, the
    /// lexicographic weight). `link_costs`: the edge cost of every link of the open `needs`.
    fn scales(&self, dim: &str, needs: &[Need], link_costs: &[f64]) -> Result<Scales, WarmRefusal> {
        let terms: Vec<NeedTerms> = needs
            .iter()
            .map(|n| NeedTerms {
                demand: n.demand.get(dim).copied().unwrap_or(0.0),
                min_fill: n.min_fill,
                priority: n.priority,
            })
            .collect();
        let (quantity, lcm) = self.quantity_scales(dim, &terms)?;
        let exact_cost = decimal_scale(link_costs.iter().copied());
        // Priorities of open parts are rounded to 1e-6 (`Session::residual_need`): the finest
        // scale takes every one of them, now and after later dispatches.
        let priority = PRIORITY_SCALE;
        let max_of = |xs: &mut dyn Iterator<Item = f64>, k: i64| {
            xs.map(|x| (x * k as f64).round().abs() as i128)
                .max()
                .unwrap_or(0)
        };
        let (cost, cost_rounded) = match exact_cost {
            Some(k) => (k, false),
            None => (COST_ROUNDING, true),
        };
        // Per unit: x * k * lcm / d <= x * k * lcm.
        let max_value =
            4 * max_of(&mut needs.iter().map(|n| n.priority), priority) * lcm as i128 + lcm as i128;
        let max_money =
            4 * max_of(&mut link_costs.iter().copied(), cost) * lcm as i128 + lcm as i128;
        let max_nodes = 2 * (2 + self.resources.len() + needs.len()) + 1024;
        let coverage = self.policy.objective == Objective::Coverage;
        let m = if coverage {
            let to_u64 = |x: i128| u64::try_from(x).map_err(|_| WarmRefusal::Scale);
            lexicographic_weight(max_nodes, to_u64(max_value)?, to_u64(max_money)?)
                .map_err(|_| WarmRefusal::Scale)?
        } else {
            0
        };
        Ok(Scales {
            quantity,
            lcm,
            cost,
            cost_rounded,
            priority,
            m,
            max_nodes,
            max_value,
            max_money,
            coverage,
        })
    }

    /// What of [`Session::scales`] the open needs (`needs`, their open parts' numbers of
    /// `dim`) and the resources decide: the quantity scale and the scaled demands' common multiple, or
    /// `Quantities` where one of theirs (a priority too) does not scale.
    fn quantity_scales(&self, dim: &str, needs: &[NeedTerms]) -> Result<(i64, i64), WarmRefusal> {
        let caps = self
            .residual
            .iter()
            .map(|r| r.capacity.get(dim).copied().unwrap_or(0.0));
        let dems = needs.iter().map(|n| n.demand);
        let fills = needs.iter().map(|n| n.demand * n.min_fill);
        let quantity =
            decimal_scale(caps.chain(dems.clone()).chain(fills)).ok_or(WarmRefusal::Quantities)?;
        let mut lcm: i64 = 1;
        for d in dems {
            let d = scaled(d, quantity);
            if d <= 0 {
                return Err(WarmRefusal::Quantities);
            }
            lcm = lcm
                .checked_mul(d / gcd(lcm, d))
                .ok_or(WarmRefusal::Quantities)?;
            if lcm > MAX_LCM {
                return Err(WarmRefusal::Quantities);
            }
        }
        // Room for the demands events bring: every scaled demand up to 12 divides the
        // multiple too, where that keeps it within bounds (a common factor leaves the
        // optimum as it is).
        let padded = (1..=12).try_fold(lcm, |l: i64, d: i64| {
            l.checked_mul(d / gcd(l, d)).filter(|&x| x <= MAX_LCM)
        });
        if decimal_scale(needs.iter().map(|n| n.priority)).is_none() {
            return Err(WarmRefusal::Quantities);
        }
        Ok((quantity, padded.unwrap_or(lcm)))
    }

    /// The arc cost of the link from resource slot `rs` to need `n` (session index `ni`, its
    /// open part `n`, scaled demand `demand`): `M * -value + money` per scaled unit.
    fn link_cost(
        &self,
        ri: usize,
        ni: usize,
        n: &Need,
        demand: i64,
        s: &Scales,
    ) -> Result<i128, WarmRefusal> {
        let edge =
            rule_link(ri, &self.residual[ri], ni, n, &self.policy).ok_or(WarmRefusal::Flow)?;
        arc_cost(edge.cost, n, demand, s)
    }
}

/// The arc cost of a link of edge cost `edge_cost` to need `n` (its open part, scaled demand
/// `demand`): `M * -value + money` per scaled unit.
fn arc_cost(edge_cost: f64, n: &Need, demand: i64, s: &Scales) -> Result<i128, WarmRefusal> {
    let per_unit = |x: f64, k: i64, exact: bool| -> Result<i128, WarmRefusal> {
        let y = x * k as f64;
        if exact && (y - y.round()).abs() > 1e-9 * y.abs().max(1.0) {
            return Err(WarmRefusal::Scale);
        }
        Ok(y.round() as i128 * (s.lcm / demand) as i128)
    };
    let money = per_unit(edge_cost, s.cost, !s.cost_rounded)?;
    if money.abs() > s.max_money {
        return Err(WarmRefusal::Scale);
    }
    if !s.coverage {
        return Ok(money);
    }
    let value = per_unit(n.priority, s.priority, true)?;
    if value.abs() > s.max_value {
        return Err(WarmRefusal::Scale);
    }
    Ok(-s.m * value + money)
}

/// A quantity in the session's integers, or `Scale` when it is not exact there.
fn scale_exact(x: f64, s: &Scales) -> Result<i64, WarmRefusal> {
    let y = x * s.quantity as f64;
    if !y.is_finite() || (y - y.round()).abs() > 1e-9 * y.abs().max(1.0) {
        return Err(WarmRefusal::Scale);
    }
    Ok(y.round() as i64)
}

/// A need's scaled demand and lower bound (`min_fill * demand`); the demand divides `lcm`.
fn need_bounds(n: &Need, dim: &str, s: &Scales) -> Result<(i64, i64), WarmRefusal> {
    let d = n.demand.get(dim).copied().unwrap_or(0.0);
    let demand = scale_exact(d, s)?;
    if demand <= 0 || s.lcm % demand != 0 {
        return Err(WarmRefusal::Scale);
    }
    Ok((demand, scale_exact(d * n.min_fill, s)?))
}

impl WarmFlow {
    /// The plan entry of link arc `a` from its flow.
    fn write_plan(&self, s: &mut Session, a: usize) {
        let Some((rs, ns)) = self.arc_link[a] else {
            return;
        };
        let Some(e) = self.needs[ns as usize].as_ref() else {
            return;
        };
        let share = self.flow.flow(a) as f64 / e.demand as f64;
        let key = (
            self.res_ids[rs as usize].clone(),
            self.need_ids[ns as usize].clone(),
        );
        let v = (share > crate::results::SHARE_EPS).then_some(share);
        if s.plan.get(&key).copied() != v {
            s.plan_set(key, v);
        }
    }

    /// Bring one resource's arcs up to date: its capacity and its links (added, dropped,
    /// re-costed). A resource that did not change is left as it is.
    /// `relinked`: the session worked out the resource's links anew (`relink_resource`); else
    /// they changed only through its needs' links, which their own syncs bring over.
    fn sync_resource(
        &mut self,
        s: &Session,
        id: &str,
        relinked: bool,
        resync: &mut BTreeSet<u32>,
    ) -> Result<(), WarmRefusal> {
        let slot = self.res_slot.get(id).copied();
        let Some(&ri) = s.res_ix.get(id) else {
            // Withdrawn: no capacity, no links.
            if let Some(slot) = slot {
                self.close_resource(slot)?;
            }
            return Ok(());
        };
        let r = &s.residual[ri];
        // A change of capacity alone (a dispatch, a return) keeps every link's cost.
        let mut recost = true;
        let slot = match slot {
            Some(slot) => {
                let Some(e) = self.resources[slot as usize].as_ref() else {
                    return Err(WarmRefusal::Flow);
                };
                if e.def == *r {
                    return Ok(());
                }
                let mut same = e.def.clone();
                same.capacity = r.capacity.clone();
                recost = same != *r;
                slot
            }
            None => {
                let node = self.flow.add_node();
                let arc = self.add_arc(0, node, 0, 0, 0, None)?;
                let slot = self.resources.len() as u32;
                self.resources.push(Some(ResEntry {
                    node,
                    arc,
                    def: r.clone(),
                    links: Vec::new(),
                }));
                self.res_ids.push(id.to_string());
                self.res_slot.insert(id.to_string(), slot);
                slot
            }
        };
        let cap = scale_exact(
            r.capacity.get(&self.dim).copied().unwrap_or(0.0),
            &self.scales,
        )?;
        let e = self.resources[slot as usize].as_mut().expect("open slot");
        e.def = r.clone();
        let (arc, node) = (e.arc, e.node);
        self.flow
            .set_bounds(arc, 0, cap)
            .map_err(|_| WarmRefusal::Flow)?;
        if !recost && !relinked {
            // The capacity alone changed (a dispatch, a return): every link and its cost
            // stand, and a comparison of thousands of them is skipped.
            return Ok(());
        }
        // Links: the needs the rules link now, each at its current cost.
        // Each need the rules link now, by slot, with its index in the session.
        let want: BTreeMap<u32, usize> = s.adj_res[ri]
            .iter()
            .filter_map(|ni| {
                let ni = ni as usize;
                self.need_slot.get(&s.needs[ni].id).map(|&ns| (ns, ni))
            })
            .collect();
        let have: Vec<(u32, u32)> = self.resources[slot as usize]
            .as_ref()
            .map(|e| e.links.clone())
            .unwrap_or_default();
        for &(ns, a) in &have {
            if !want.contains_key(&ns) {
                self.drop_link(slot, ns, a as usize)?;
            }
        }
        for (&ns, &ni) in &want {
            let Some(ne) = self.needs[ns as usize].as_ref() else {
                continue;
            };
            let (need_node, found) = (ne.node, ne.links.binary_search_by_key(&slot, |l| l.0));
            if found.is_ok() && !recost {
                continue;
            }
            let n = s.residual_need(ni);
            let c = s.link_cost(ri, ni, &n, ne.demand, &self.scales)?;
            match found {
                Ok(k) => {
                    let a = ne.links[k].1 as usize;
                    if self.flow.cost(a) != c {
                        self.flow.set_cost(a, c).map_err(|_| WarmRefusal::Flow)?;
                    }
                }
                Err(k) => {
                    let a = self.add_arc(node, need_node, 0, INFINITE, c, Some((slot, ns)))?;
                    let ne = self.needs[ns as usize].as_mut().expect("open slot");
                    ne.links.insert(k, (slot, a as u32));
                    self.push_res_link(slot, ns, a);
                    // The plan entry of a new link is written after the re-optimisation.
                    resync.insert(ns);
                }
            }
        }
        Ok(())
    }

    /// Bring one need's arcs up to date; a need closed (withdrawn, or dispatched in full)
    /// loses its arcs. A need that did not change is left as it is.
    fn sync_need(
        &mut self,
        s: &mut Session,
        id: &str,
        resync: &mut BTreeSet<u32>,
    ) -> Result<(), WarmRefusal> {
        let slot = self.need_slot.get(id).copied();
        let open = s.need_ix.get(id).copied().filter(|&ni| s.is_open(ni));
        let Some(ni) = open else {
            if let Some(slot) = slot {
                self.close_need(s, slot)?;
            }
            return Ok(());
        };
        if let Some(e) = slot.and_then(|k| self.needs[k as usize].as_ref()) {
            if e.def == s.needs[ni] && e.open == s.open[ni] {
                return Ok(());
            }
        }
        let n = s.residual_need(ni);
        if n.indivisible {
            return Err(WarmRefusal::Shape);
        }
        let (demand, lo) = need_bounds(&n, &self.dim, &self.scales)?;
        let slot = match slot {
            Some(k) if self.needs[k as usize].is_some() => k,
            _ => {
                let node = self.flow.add_node();
                let arc = self.add_arc(node, 1, 0, 0, 0, None)?;
                let k = self.needs.len() as u32;
                self.needs.push(Some(NeedEntry {
                    node,
                    arc,
                    demand,
                    def: n.clone(),
                    open: s.open[ni],
                    links: Vec::new(),
                }));
                self.need_ids.push(id.to_string());
                self.need_slot.insert(id.to_string(), k);
                k
            }
        };
        resync.insert(slot);
        let e = self.needs[slot as usize].as_mut().expect("open slot");
        e.def = s.needs[ni].clone();
        e.open = s.open[ni];
        e.demand = demand;
        let (arc, node) = (e.arc, e.node);
        self.flow
            .set_bounds(arc, lo, demand)
            .map_err(|_| WarmRefusal::Flow)?;
        // Each resource the rules link now, by slot, with its index in the session.
        let want: BTreeMap<u32, usize> = s.adj_need[ni]
            .iter()
            .filter_map(|ri| {
                let ri = ri as usize;
                self.res_slot.get(&s.resources[ri].id).map(|&rs| (rs, ri))
            })
            .collect();
        let have = self.needs[slot as usize]
            .as_ref()
            .map(|e| e.links.clone())
            .unwrap_or_default();
        for &(rs, a) in &have {
            if !want.contains_key(&rs) {
                self.drop_link(rs, slot, a as usize)?;
            }
        }
        let mut links = Vec::with_capacity(want.len());
        for (&rs, &ri) in &want {
            let c = s.link_cost(ri, ni, &n, demand, &self.scales)?;
            let existing = have
                .binary_search_by_key(&rs, |l| l.0)
                .ok()
                .map(|k| have[k].1 as usize);
            let a = match existing {
                Some(a) => {
                    if self.flow.cost(a) != c {
                        self.flow.set_cost(a, c).map_err(|_| WarmRefusal::Flow)?;
                    }
                    a
                }
                None => {
                    let rnode = self.resources[rs as usize]
                        .as_ref()
                        .ok_or(WarmRefusal::Flow)?
                        .node;
                    let a = self.add_arc(rnode, node, 0, INFINITE, c, Some((rs, slot)))?;
                    self.push_res_link(rs, slot, a);
                    a
                }
            };
            links.push((rs, a as u32));
        }
        self.needs[slot as usize].as_mut().expect("open slot").links = links;
        Ok(())
    }

    fn add_arc(
        &mut self,
        from: usize,
        to: usize,
        lower: i64,
        upper: i64,
        cost: i128,
        link: Option<(u32, u32)>,
    ) -> Result<usize, WarmRefusal> {
        if self.flow.nodes() > self.scales.max_nodes {
            return Err(WarmRefusal::Scale);
        }
        let a = self
            .flow
            .add_arc(from, to, lower, upper, cost)
            .map_err(|_| WarmRefusal::Flow)?;
        self.arc_link.push(link);
        self.link_at.push(0);
        Ok(a)
    }

    /// Put link arc `a` (to need slot `ns`) in resource `rs`'s list.
    fn push_res_link(&mut self, rs: u32, ns: u32, a: usize) {
        if let Some(re) = self.resources[rs as usize].as_mut() {
            self.link_at[a] = re.links.len() as u32;
            re.links.push((ns, a as u32));
        }
    }

    /// Take link arc `a` out of resource `rs`'s list (the last entry takes its place).
    fn remove_res_link(&mut self, rs: u32, a: usize) {
        let Some(re) = self.resources[rs as usize].as_mut() else {
            return;
        };
        let k = self.link_at[a] as usize;
        debug_assert!(
            re.links.get(k).is_some_and(|l| l.1 as usize == a),
            "link_at of arc {a}"
        );
        if re.links.get(k).is_some_and(|l| l.1 as usize == a) {
            re.links.swap_remove(k);
            if let Some(&(_, b)) = re.links.get(k) {
                self.link_at[b as usize] = k as u32;
            }
        }
    }

    /// A link the rules no longer allow: bounded to 0, out of both lists.
    fn drop_link(&mut self, rs: u32, ns: u32, a: usize) -> Result<(), WarmRefusal> {
        self.flow
            .set_bounds(a, 0, 0)
            .map_err(|_| WarmRefusal::Flow)?;
        self.arc_link[a] = None;
        self.dropped.push((rs, ns));
        self.remove_res_link(rs, a);
        if let Some(e) = self.needs[ns as usize].as_mut() {
            if let Ok(k) = e.links.binary_search_by_key(&rs, |l| l.0) {
                e.links.remove(k);
            }
        }
        Ok(())
    }

    fn close_resource(&mut self, slot: u32) -> Result<(), WarmRefusal> {
        let Some(e) = self.resources[slot as usize].take() else {
            return Ok(());
        };
        self.flow
            .set_bounds(e.arc, 0, 0)
            .map_err(|_| WarmRefusal::Flow)?;
        for (ns, a) in e.links {
            self.flow
                .set_bounds(a as usize, 0, 0)
                .map_err(|_| WarmRefusal::Flow)?;
            self.arc_link[a as usize] = None;
            self.dropped.push((slot, ns));
            if let Some(ne) = self.needs[ns as usize].as_mut() {
                if let Ok(k) = ne.links.binary_search_by_key(&slot, |l| l.0) {
                    ne.links.remove(k);
                }
            }
        }
        self.res_slot.remove(&self.res_ids[slot as usize]);
        Ok(())
    }

    /// A need gone or served in full: its arcs carry nothing, and its plan entries go.
    fn close_need(&mut self, s: &mut Session, slot: u32) -> Result<(), WarmRefusal> {
        let Some(e) = self.needs[slot as usize].take() else {
            return Ok(());
        };
        self.flow
            .set_bounds(e.arc, 0, 0)
            .map_err(|_| WarmRefusal::Flow)?;
        let id = self.need_ids[slot as usize].clone();
        for (rs, a) in e.links {
            // A plan entry is written for a link only when it carries flow (`write_plan`),
            // so the links without flow need no look-up by ids.
            let flowing = self.flow.flow(a as usize) > 0;
            self.flow
                .set_bounds(a as usize, 0, 0)
                .map_err(|_| WarmRefusal::Flow)?;
            self.arc_link[a as usize] = None;
            self.remove_res_link(rs, a as usize);
            if flowing {
                let key = (self.res_ids[rs as usize].clone(), id.clone());
                if s.plan.contains_key(&key) {
                    s.plan_set(key, None);
                }
            }
        }
        self.need_slot.remove(&id);
        Ok(())
    }
}

/// Marginal values by need (non-zero ones).
pub(super) type Marginals = HashMap<String, f64>;
/// Shadow prices by resource and dimension (non-zero ones).
pub(super) type Prices = HashMap<String, BTreeMap<String, f64>>;
/// A report's duals.
pub(super) type Duals = (Marginals, Prices);

impl Session {
    /// The duals a report shows: kept by cold re-plans; with a warm model, those of a cold
    /// solve of the residual scenario, worked out once per state when first asked.
    pub(super) fn duals(&self) -> (&Marginals, &Prices) {
        if self.warm.is_none() {
            return (&self.marginal, &self.shadow);
        }
        let d = self.duals_cache.get_or_init(|| {
            let residual = self.residual_scenario();
            let solved = solve_with(&residual, &SolveOptions::default());
            super::replan::report_duals(&Report::new(&solved))
        });
        (&d.0, &d.1)
    }
}

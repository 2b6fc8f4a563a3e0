//! Which solver answers for a part of the model: [`SubModel::route`], the one place that
//! decides it, and [`Exact`], the integer scaling the exact solvers need.
//!
//! - `solver: greedy`: the greedy baseline, whatever the shape.
//! - Fixed intervals on one resource in one reusable dimension (every need divisible, or
//!   every need indivisible with the same use), no fairness, `solver: auto`, objective
//!   `coverage` or `cost`: interval scheduling, a min-cost flow along the timeline for the
//!   network simplex (Arkin and Silverberg 1987; `timeline.rs`).
//! - An indivisible need: the HiGHS MIP.
//! - SPEC's transportation case (one dimension, default uses, no fairness rule that enters
//!   the model (max-min over one group does not: `Policy::fairness_implied`), no indivisible
//!   need, `solver: auto`, objective `coverage`, `cost` or `weighted`) whose data scale to
//!   exact integers: the assignment solver when it is one-to-one and small enough for a dense
//!   matrix (not `weighted`, whose one objective is not the assignment's lexicographic one),
//!   else the network simplex. Costs that are not short decimals (those built from distances;
//!   under `weighted`, `w c` whenever it is not one) are rounded to 1e-4 of a cost unit there:
//!   each full service's cost moves by at most 5e-5, so under `cost` or `weighted` the plan's
//!   objective may fall short of the optimum by up to 1e-4 per full service, and a link whose
//!   weighted cost is that close to its need's priority may be taken or left either way.
//! - A timed scenario (SPEC's allocation over time): the HiGHS LP, or the MIP when a need
//!   chooses among starts.
//! - Anything else: the HiGHS LP.

use crate::model::{Fairness, Objective, SolverChoice};
use crate::submodel::SubModel;
use crate::timeline::Timeline;

/// Where a part of the model is solved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Route {
    /// The by-hand baseline of SPEC section 2 (`policy.solver: greedy`).
    Greedy,
    /// One-to-one matching: the assignment solver.
    Assignment(Exact),
    /// The transportation case: a min-cost flow for the network simplex.
    Flow(Exact),
    /// Fixed intervals on one resource (interval scheduling): a min-cost flow along the
    /// timeline (`timeline.rs`).
    Timeline(Timeline),
    /// HiGHS, continuous columns.
    Lp,
    /// HiGHS with integer columns (indivisible needs).
    Mip,
}

/// How a transportation part's data become exact integers.
///
/// Quantities (capacities, demands, `min_fill * demand`) are multiplied by `quantity`; per-unit
/// values and costs (`p_n / d_n`, `c_e / d_n`) become integers after multiplying by `lcm` (the
/// least common multiple of the scaled demands) and by `priority` or `cost` respectively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exact {
    pub quantity: i64,
    pub lcm: i64,
    pub cost: i64,
    pub priority: i64,
}

/// Scale of costs that are not short decimals: they are rounded to 1e-4 of a cost unit.
pub(crate) const COST_ROUNDING: i64 = 10_000;
/// The largest common multiple of the scaled demands that keeps per-unit values in `i64`.
pub(crate) const MAX_LCM: i64 = 1_000_000;
/// Largest dense matrix (rows x columns) the assignment route builds; larger one-to-one parts
/// go to the flow solver, whose memory grows with the links instead.
pub const MAX_ASSIGNMENT_CELLS: usize = 25_000_000;

impl SubModel<'_> {
    /// The solver for this part (see the module documentation).
    pub(crate) fn route(&self) -> Route {
        let policy = &self.scenario.policy;
        if policy.solver == SolverChoice::Greedy {
            return Route::Greedy;
        }
        if let Some(shape) = self.interval_scheduling() {
            return Route::Timeline(shape);
        }
        if self.is_mip() {
            return Route::Mip;
        }
        if !self.is_transportation() {
            return Route::Lp;
        }
        let Some(exact) = self.exact() else {
            return Route::Lp;
        };
        // The assignment route weighs coverage over cost lexicographically; `weighted`'s one
        // stage goes to the flow.
        let lexicographic = self.scenario.policy.objective != Objective::Weighted;
        if lexicographic && self.is_one_to_one() && self.assignment_fits(&exact) {
            Route::Assignment(exact)
        } else {
            Route::Flow(exact)
        }
    }

    /// Whether a fairness rule enters this part's model. Its groups are built only where the
    /// rule couples the scenario's components (`solve_parts_of`): a max-min rule over a single
    /// group adds nothing to the coverage objective (`Policy::fairness_implied`) and has none.
    fn fairness_applies(&self) -> bool {
        self.scenario.policy.fairness != Fairness::None && !self.groups.is_empty()
    }

    /// SPEC's transportation case: one dimension, default uses, no fairness, no indivisible
    /// need, `solver: auto`, objective `coverage`, `cost` or `weighted` (a flow's linear
    /// costs), and no time model (capacity over time is not a flow's node balance).
    fn is_transportation(&self) -> bool {
        let s = self.scenario;
        s.policy.solver == SolverChoice::Auto
            && self.net.time.is_none()
            && !self.fairness_applies()
            && matches!(
                s.policy.objective,
                Objective::Coverage | Objective::Cost | Objective::Weighted
            )
            && self.net.num_dims() == 1
            && !self.net.has_use_override
            && self.needs.iter().all(|&n| !s.needs[n].indivisible)
    }

    /// Arkin and Silverberg's case: `solver: auto`, no fairness, objective `coverage` or
    /// `cost`, one reusable dimension with default uses, one resource, every need at one
    /// fixed start (one link each), and either every need divisible (an LP) or every need
    /// indivisible with the same use (a MIP whose relaxation is integral). `None` otherwise,
    /// or when the numbers are not short decimals.
    fn interval_scheduling(&self) -> Option<Timeline> {
        let s = self.scenario;
        let net = self.net;
        let time = net.time.as_ref()?;
        let shape = s.policy.solver == SolverChoice::Auto
            && !self.fairness_applies()
            && matches!(s.policy.objective, Objective::Coverage | Objective::Cost)
            && net.num_dims() == 1
            && time.reusable[0]
            && !net.has_use_override
            && self.resources.len() == 1
            && self.edges.len() == self.needs.len();
        if !shape {
            return None;
        }
        let indivisible = self
            .needs
            .iter()
            .filter(|&&n| s.needs[n].indivisible)
            .count();
        if indivisible == 0 {
            let held = time.held[self.resources[0]].intervals();
            let exact = self.exact_with(held.iter().map(|h| h.2))?;
            return Some(Timeline { exact, unit: None });
        }
        let unit = net.dem(*self.needs.first()?)[0];
        let same = self.needs.iter().all(|&n| net.dem(n)[0] == unit);
        if indivisible < self.needs.len() || !same || unit <= 0.0 {
            return None;
        }
        let (cost, priority) = self.value_scales()?;
        Some(Timeline {
            exact: Exact {
                quantity: 1,
                lcm: 1,
                cost,
                priority,
            },
            unit: Some(unit),
        })
    }

    /// Every need of demand 1 with `min_fill` 0 or 1, every resource of capacity 1, and a
    /// matrix of needs x (resources + one "unserved" column per need) small enough to build.
    fn is_one_to_one(&self) -> bool {
        let s = self.scenario;
        let net = self.net;
        let unit = |x: f64| x == 1.0;
        let shape = self.needs.iter().all(|&n| {
            unit(net.dem(n)[0]) && (s.needs[n].min_fill == 0.0 || s.needs[n].min_fill == 1.0)
        }) && self.resources.iter().all(|&r| unit(net.cap(r)[0]));
        let rows = self.needs.len();
        shape
            && rows
                .checked_mul(self.resources.len() + rows)
                .is_some_and(|cells| cells <= MAX_ASSIGNMENT_CELLS)
    }

    /// The exact scaling of this transportation part, or `None` when a quantity or priority
    /// is not a short decimal or the common multiple of the demands grows too large.
    fn exact(&self) -> Option<Exact> {
        self.exact_with(std::iter::empty())
    }

    /// [`SubModel::exact`] with `more` quantities (a timeline's held amounts) scaled exactly too.
    fn exact_with(&self, more: impl Iterator<Item = f64> + Clone) -> Option<Exact> {
        let s = self.scenario;
        let net = self.net;
        let quantity = decimal_scale(
            self.resources
                .iter()
                .map(|&r| net.cap(r)[0])
                .chain(self.needs.iter().map(|&n| net.dem(n)[0]))
                .chain(
                    self.needs
                        .iter()
                        .map(|&n| net.dem(n)[0] * s.needs[n].min_fill),
                )
                .chain(more),
        )?;
        let mut lcm: i64 = 1;
        for &n in self.needs {
            let d = scaled(net.dem(n)[0], quantity);
            if d <= 0 {
                return None;
            }
            lcm = lcm.checked_mul(d / gcd(lcm, d))?;
            if lcm > MAX_LCM {
                return None;
            }
        }
        let (cost, priority) = self.value_scales()?;
        Some(Exact {
            quantity,
            lcm,
            cost,
            priority,
        })
    }

    /// The scales that make costs and priorities integers.
    fn value_scales(&self) -> Option<(i64, i64)> {
        let s = self.scenario;
        let net = self.net;
        // Costs built from distances (`cost_per_km * km`) are not decimals: rounding them to
        // 1e-4 of a cost unit moves C by at most 1e-4 per full service routed and leaves V
        // exact. Costs given as decimals scale exactly.
        let priority = decimal_scale(self.needs.iter().map(|&n| s.needs[n].priority))?;
        // Under `weighted` the costs are `w c`: one objective, `w C - V`, with the priorities
        // on one scale (both powers of ten, so the larger holds both exactly).
        let w = match s.policy.objective {
            Objective::Weighted => s.policy.cost_weight,
            _ => 1.0,
        };
        let cost = decimal_scale(self.edges.iter().map(|&e| w * net.edges[e].cost))
            .unwrap_or(COST_ROUNDING);
        if s.policy.objective == Objective::Weighted {
            let both = cost.max(priority);
            return Some((both, both));
        }
        Some((cost, priority))
    }
}

/// `x` in units of `1 / quantity`, rounded (exact for the quantities [`Exact`] was made from).
pub(crate) fn scaled(x: f64, quantity: i64) -> i64 {
    (x * quantity as f64).round() as i64
}

/// Smallest power of ten (up to 10^6) that makes every value an integer, exactly.
pub(crate) fn decimal_scale(values: impl Iterator<Item = f64> + Clone) -> Option<i64> {
    'k: for k in 0..=6 {
        let f = 10f64.powi(k);
        for x in values.clone() {
            let y = x * f;
            if !y.is_finite() || y.abs() > 1e15 || (y - y.round()).abs() > 1e-9 * y.abs().max(1.0) {
                continue 'k;
            }
        }
        return Some(10i64.pow(k as u32));
    }
    None
}

pub(crate) fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{components, Network};
    use crate::scenario_from_value;
    use serde_json::json;

    /// The route of every component of `scenario`, in component order.
    fn routes(scenario: serde_json::Value) -> Vec<Route> {
        let s = scenario_from_value(&scenario).unwrap();
        let net = Network::build(&s);
        components(s.resources.len(), s.needs.len(), &net.edges)
            .iter()
            .map(|c| {
                SubModel {
                    scenario: &s,
                    net: &net,
                    needs: &c.needs,
                    edges: &c.edges,
                    resources: &c.resources,
                    groups: Vec::new(),
                    deadline: None,
                    cancel: None,
                    lp_starts: None,
                    prices: true,
                    by_need: Default::default(),
                }
                .route()
            })
            .collect()
    }

    fn one_pair(need: serde_json::Value, capacity: serde_json::Value) -> serde_json::Value {
        let mut n = json!({"id": "n", "kind": "k", "demand": {"u": 1}});
        n.as_object_mut()
            .unwrap()
            .extend(need.as_object().unwrap().clone());
        json!({
            "resources": [{"id": "r", "kind": "k", "capacity": capacity}],
            "needs": [n],
            "links": [{"need": "n", "resource": "r", "cost": 1.5}]
        })
    }

    #[test]
    fn each_shape_has_its_route() {
        let exact = Exact {
            quantity: 1,
            lcm: 1,
            cost: 10,
            priority: 1,
        };
        assert_eq!(
            routes(one_pair(json!({}), json!({"u": 1}))),
            [Route::Assignment(exact)]
        );
        let flow = Exact {
            quantity: 10,
            lcm: 10,
            ..exact
        };
        assert_eq!(
            routes(one_pair(json!({}), json!({"u": 2.5}))),
            [Route::Flow(flow)]
        );
        assert_eq!(
            routes(one_pair(json!({"indivisible": true}), json!({"u": 1}))),
            [Route::Mip]
        );
        // Two dimensions: not the transportation case.
        assert_eq!(
            routes(one_pair(json!({}), json!({"u": 1, "v": 1}))),
            [Route::Lp]
        );
        // A priority that is not a short decimal does not scale exactly.
        assert_eq!(
            routes(one_pair(json!({"priority": 1.0 / 3.0}), json!({"u": 1}))),
            [Route::Lp]
        );
        let mut greedy = one_pair(json!({"indivisible": true}), json!({"u": 1}));
        greedy["policy"] = json!({"solver": "greedy"});
        assert_eq!(routes(greedy), [Route::Greedy]);
        // `weighted` is one stage of the flow (never the lexicographic assignment), its
        // weighted costs and priorities on one scale (0.25 x 1.5 = 0.375: thousandths).
        let mut weighted = one_pair(json!({}), json!({"u": 1}));
        weighted["policy"] = json!({"objective": "weighted", "cost_weight": 0.25});
        let one_scale = Exact {
            cost: 1000,
            priority: 1000,
            ..exact
        };
        assert_eq!(routes(weighted), [Route::Flow(one_scale)]);
        let mut lp = one_pair(json!({}), json!({"u": 1}));
        lp["policy"] = json!({"solver": "lp"});
        assert_eq!(routes(lp), [Route::Lp]);
    }

    #[test]
    fn decimal_scale_is_the_smallest_exact_power_of_ten() {
        let scale = |v: &[f64]| decimal_scale(v.iter().copied());
        assert_eq!(scale(&[1.0, 2.0]), Some(1));
        assert_eq!(scale(&[1.5, 0.25]), Some(100));
        assert_eq!(scale(&[1e-6]), Some(1_000_000));
        assert_eq!(scale(&[1e-7]), None);
        assert_eq!(scale(&[f64::NAN]), None);
        assert_eq!(gcd(12, 18), 6);
    }
}

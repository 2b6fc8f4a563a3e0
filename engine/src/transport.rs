//! The exact routes of the transportation case (see `route.rs`): a component as a min-cost
//! flow for [`NetworkSimplex`], or, when it is one-to-one, as an assignment problem.
//!
//! Network: source -> resource (capacity), resource -> need (one uncapacitated arc per link),
//! need -> sink (between `min_fill * demand` and `demand`), and sink -> source closing the
//! circulation, on the integers of [`Exact`]. The lexicographic objective (most value, then
//! cheapest) is one exact flow ([`NetworkSimplex::solve_lexicographic`]). Each solver answers
//! `None` where it cannot answer exactly (infeasible, or beyond 64-bit integers), and the part
//! goes on to the next route.

use crate::model::Objective;
use crate::route::Exact;
use crate::submodel::{positive, SolvedBy, SubModel, SubResult};
use commonsnet_solvers::residual::Way;
use commonsnet_solvers::{
    raise_gain, solve_assignment, solve_assignment_until, AssignmentError, AssignmentProblem,
    FlowProblem, FlowSolution, NetworkSimplex, ResidualNetwork, INFINITE,
};
use std::borrow::Cow;

/// A transport part as a min-cost flow on the integers of its [`Exact`]: nodes 0 source, 1
/// sink, resources, then needs; each arc's value (minus, per unit) and money cost.
struct TransportNetwork {
    p: FlowProblem,
    value_cost: Vec<i64>,
    money_cost: Vec<i64>,
    /// The arc of each of the part's links, resources and needs, in their order.
    link_arcs: Vec<usize>,
    cap_arcs: Vec<usize>,
    need_arcs: Vec<usize>,
}

/// A part's shadow prices `(resource, dim, price)` and its needs' marginal values, as a
/// [`SubResult`] takes them.
type Prices = (Vec<(usize, usize, f64)>, Vec<f64>);

/// What one more unit is worth at an optimal flow, per resource capacity and per need bound,
/// in the integer units of the stage's costs.
struct Gains {
    capacity: Vec<i128>,
    need: Vec<i128>,
}

impl TransportNetwork {
    /// SPEC's gains at the optimal `flow` of the stage costs `stage_cost`: how much that
    /// stage's optimum improves per unit of a resource's capacity (the arc from the source)
    /// or of a need's upper bound (the arc to the sink) raised, from the cheapest residual
    /// cycles through those arcs. At a degenerate optimum the basis's potentials are one
    /// subgradient among many (an exact fit of capacity and demand could be priced at the
    /// need's value, where one more unit serves nothing); these are the one-sided
    /// derivatives, the same for every optimal flow. `potential`, when they are optimal
    /// duals, make each search one Dijkstra. `None` if the flow is not optimal for the costs.
    fn gains(&self, stage_cost: &[i64], flow: &[i64], potential: Option<&[i128]>) -> Option<Gains> {
        let residual = ResidualNetwork::new(&self.p, stage_cost, flow);
        let to_source = residual.distances(0, Way::To, potential).ok()?;
        let from_sink = residual.distances(1, Way::From, potential).ok()?;
        let gain = |a: usize, back: &[Option<i128>], at: usize| raise_gain(stage_cost[a], back[at]);
        Some(Gains {
            capacity: self
                .cap_arcs
                .iter()
                .map(|&a| gain(a, &to_source, self.p.target[a]))
                .collect(),
            need: self
                .need_arcs
                .iter()
                .map(|&a| gain(a, &from_sink, self.p.source[a]))
                .collect(),
        })
    }
}

impl SubModel<'_> {
    /// The part as a [`TransportNetwork`]; `None` when a per-unit value or cost leaves 64-bit
    /// integers.
    fn transport_network(&self, exact: &Exact) -> Option<TransportNetwork> {
        let s = self.scenario;
        let net = self.net;
        let objective = s.policy.objective;
        let Exact {
            quantity: q,
            lcm,
            cost: kc,
            priority: kp,
        } = *exact;
        let scaled = |x: f64| crate::route::scaled(x, q);
        // Under `weighted` the money costs carry `cost_weight` (and share the value's scale,
        // `route::value_scales`), so that their sum is the objective `w C - V`.
        let weight = match objective {
            Objective::Weighted => s.policy.cost_weight,
            _ => 1.0,
        };
        let nr = self.resources.len();
        let mut local_res = std::collections::HashMap::with_capacity(nr);
        for (i, &r) in self.resources.iter().enumerate() {
            local_res.insert(r, 2 + i);
        }
        let mut local_need = std::collections::HashMap::with_capacity(self.needs.len());
        for (i, &n) in self.needs.iter().enumerate() {
            local_need.insert(n, 2 + nr + i);
        }
        let nodes = 2 + nr + self.needs.len();
        let mut p = FlowProblem::new(nodes);
        let mut value_cost: Vec<i64> = Vec::new(); // -value per unit, per arc
        let mut money_cost: Vec<i64> = Vec::new(); // cost per unit, per arc
        let unit = |n: usize, x: f64, k: i64| -> Option<i64> {
            // x per full need -> per scaled unit, times lcm and 10^k: exact by construction.
            let d = scaled(net.dem(n)[0]);
            let v = (x * k as f64).round() as i128 * (lcm / d) as i128;
            i64::try_from(v).ok()
        };
        let mut link_arcs = Vec::with_capacity(self.edges.len());
        for &e in self.edges {
            let edge = &net.edges[e];
            let n = edge.need();
            let from = local_res[&edge.resource()];
            let to = local_need[&n];
            // Uncapacitated: the need arc already bounds it, and a redundant bound here would
            // take the need's dual when the basis is degenerate.
            let a = p.add_arc(from, to, 0, INFINITE, 0);
            link_arcs.push(a);
            let c = unit(n, weight * edge.cost, kc)?;
            let v = unit(n, s.needs[n].priority, kp)?;
            value_cost.push(-v);
            money_cost.push(c);
        }
        let mut cap_arcs = Vec::with_capacity(nr);
        for &r in self.resources {
            cap_arcs.push(p.add_arc(0, local_res[&r], 0, scaled(net.cap(r)[0]), 0));
            value_cost.push(0);
            money_cost.push(0);
        }
        let mut need_arcs = Vec::with_capacity(self.needs.len());
        for &n in self.needs {
            let d = scaled(net.dem(n)[0]);
            let lo = scaled(net.dem(n)[0] * s.needs[n].min_fill);
            need_arcs.push(p.add_arc(local_need[&n], 1, lo, d, 0));
            value_cost.push(0);
            money_cost.push(0);
        }
        p.add_arc(1, 0, 0, INFINITE, 0);
        value_cost.push(0);
        money_cost.push(0);
        Some(TransportNetwork {
            p,
            value_cost,
            money_cost,
            link_arcs,
            cap_arcs,
            need_arcs,
        })
    }

    /// SubResult's shadow prices and marginal values from [`Gains`] in the stage's integer
    /// units: per unit of capacity, and per whole need (`y <= 1`).
    fn gain_prices(&self, gains: &Gains, exact: &Exact) -> Prices {
        let per_unit = exact.quantity as f64 / main_scale(self.scenario.policy.objective, *exact);
        let shadow = self
            .resources
            .iter()
            .zip(&gains.capacity)
            .map(|(&r, &g)| (r, 0usize, positive(g as f64 * per_unit)))
            .collect();
        let marginal = self
            .needs
            .iter()
            .zip(&gains.need)
            .map(|(&n, &g)| positive(g as f64 * per_unit) * self.net.dem(n)[0])
            .collect();
        (shadow, marginal)
    }

    /// Solve through the network simplex; `None` when the flow is infeasible (a `min_fill`
    /// that cannot hold: the LP's elastic model names the needs) or too large for exact
    /// integers.
    pub(crate) fn solve_by_flow(&self, exact: &Exact) -> Option<SubResult> {
        let net = self.net;
        let objective = self.scenario.policy.objective;
        let mut network = self.transport_network(exact)?;
        let scaled = |x: f64| crate::route::scaled(x, exact.quantity);
        // An infeasible flow (a min_fill that cannot hold) goes to the LP, whose elastic
        // diagnosis names the needs; so does anything too large for exact integers.
        let (sol, stage_cost) = solve_objective(
            objective,
            &mut network.p,
            &network.value_cost,
            &network.money_cost,
        )?;

        let x: Vec<f64> = self
            .edges
            .iter()
            .zip(&network.link_arcs)
            .map(|(&e, &a)| {
                let d = scaled(net.dem(net.edges[e].need())[0]);
                sol.flow[a] as f64 / d as f64
            })
            .collect();

        if !self.prices {
            return Some(self.unpriced(SolvedBy::NetworkSimplex, x));
        }
        // Gains of the stage that sets the main objective; the final basis's potentials for
        // that stage's costs make the searches Dijkstra's.
        let pi = sol.basis.as_ref()?.potentials(&stage_cost);
        let gains = network.gains(&stage_cost, &sol.flow, Some(&pi))?;
        let (shadow, marginal) = self.gain_prices(&gains, exact);
        Some(SubResult::optimal(
            SolvedBy::NetworkSimplex,
            x,
            shadow,
            marginal,
        ))
    }
}

/// The flow of a part's objective on its integers: most value, then cheapest, as one exact
/// lexicographic flow for `coverage`; cheapest for `cost`; least `w C - V` for `weighted`
/// (its money costs carry the weight, on the value's scale). With it, the arc costs of the
/// stage that sets the main objective, whose potentials give the duals (in the units of
/// [`main_scale`]). `None` when infeasible or beyond 64-bit integers.
pub(crate) fn solve_objective<'c>(
    objective: Objective,
    p: &mut FlowProblem,
    value_cost: &'c [i64],
    money_cost: &'c [i64],
) -> Option<(FlowSolution, Cow<'c, [i64]>)> {
    let (solved, stage) = match objective {
        Objective::Coverage => (
            NetworkSimplex::solve_lexicographic(p, value_cost, money_cost),
            Cow::Borrowed(value_cost),
        ),
        Objective::Weighted => {
            p.cost = weighted_costs(value_cost, money_cost)?;
            (NetworkSimplex::solve(p), Cow::Owned(p.cost.clone()))
        }
        _ => {
            p.cost = money_cost.to_vec();
            (NetworkSimplex::solve(p), Cow::Borrowed(money_cost))
        }
    };
    Some((solved.ok()?, stage))
}

/// The scale that turns the main stage's integer costs (and potentials) into the objective's
/// units: the value's for `coverage` and `weighted`, the money's for `cost`.
pub(crate) fn main_scale(objective: Objective, exact: Exact) -> f64 {
    let scale = match objective {
        Objective::Coverage | Objective::Weighted => exact.priority,
        _ => exact.cost,
    };
    scale as f64 * exact.lcm as f64
}

/// `w C - V` per arc; `None` beyond 64-bit integers.
fn weighted_costs(value_cost: &[i64], money_cost: &[i64]) -> Option<Vec<i64>> {
    value_cost
        .iter()
        .zip(money_cost)
        .map(|(&v, &c)| v.checked_add(c))
        .collect()
}

impl SubModel<'_> {
    /// The lexicographic weight `M` of coverage on the assignment route (0 for `cost`), and
    /// whether `M * value + cost` keeps every path length of the solver inside `i64`.
    fn assignment_weight(&self, exact: &Exact) -> (i128, bool) {
        let s = self.scenario;
        let net = self.net;
        let max_abs = |xs: &mut dyn Iterator<Item = f64>, k: i64| {
            xs.map(|x| ((x * k as f64).round() as i64).unsigned_abs())
                .max()
                .unwrap_or(0) as i128
        };
        let max_money = max_abs(
            &mut self.edges.iter().map(|&e| net.edges[e].cost),
            exact.cost,
        );
        let max_value = max_abs(
            &mut self.needs.iter().map(|&n| s.needs[n].priority),
            exact.priority,
        );
        let rows = self.needs.len() as i128;
        // Checked: priorities and costs of 1e12 over thousands of rows pass i128.
        let m = if s.policy.objective == Objective::Coverage {
            rows.checked_mul(max_money)
                .and_then(|x| x.checked_mul(2))
                .and_then(|x| x.checked_add(1))
        } else {
            Some(0)
        };
        let longest = m
            .and_then(|m| m.checked_mul(max_value))
            .and_then(|x| x.checked_add(max_money))
            .and_then(|x| x.checked_mul(2 * (rows + 2)));
        match (m, longest) {
            (Some(m), Some(longest)) if longest <= (i64::MAX / 8) as i128 => (m, true),
            _ => (0, false),
        }
    }

    /// Whether the assignment route's costs fit exact 64-bit integers.
    pub(crate) fn assignment_fits(&self, exact: &Exact) -> bool {
        self.assignment_weight(exact).1
    }

    /// The gains of an assignment `x` (0 or 1 per link) as those of the same plan on the
    /// part's flow network (the assignment polytope is the transport one), so that both exact
    /// routes price one plan alike; `None` where that network leaves 64-bit integers.
    fn assignment_gains(&self, exact: &Exact, x: &[f64]) -> Option<Prices> {
        let network = self.transport_network(exact)?;
        let p = &network.p;
        let mut flow = vec![0i64; p.arcs()];
        for (&a, &share) in network.link_arcs.iter().zip(x) {
            if share == 1.0 {
                // Demands are 1 on this route: one unit is `quantity` scaled units.
                let units = exact.quantity;
                flow[a] = units;
                // Nodes: 0 source, 1 sink, resources, then needs.
                let (res, need) = (p.source[a] - 2, p.target[a] - 2 - network.cap_arcs.len());
                flow[network.cap_arcs[res]] += units;
                flow[network.need_arcs[need]] += units;
                flow[p.arcs() - 1] += units;
            }
        }
        let stage_cost = match self.scenario.policy.objective {
            Objective::Coverage => &network.value_cost,
            _ => &network.money_cost,
        };
        let gains = network.gains(stage_cost, &flow, None)?;
        Some(self.gain_prices(&gains, exact))
    }

    /// One-to-one matching through the assignment solver, which beats the network simplex
    /// several times over on dense instances (`cargo bench -p commonsnet-solvers --
    /// dense_2000`). Rows are needs; columns are resources plus one "unserved" column per
    /// need (cost 0; forbidden for needs with min_fill 1). Coverage is lexicographic through
    /// `M * value + cost` with `M = 2 N max|cost| + 1` (a plan's total cost spans less than
    /// `M`); its duals come from a second, value-only solve. `None` when no assignment serves
    /// every need of min_fill 1, or the costs do not fit exact 64-bit integers.
    pub(crate) fn solve_by_assignment(&self, exact: &Exact) -> Option<SubResult> {
        let s = self.scenario;
        let net = self.net;
        let (kc, kp) = (exact.cost, exact.priority);
        let (rows, real) = (self.needs.len(), self.resources.len());
        let cols = real + rows;
        let (m, fits) = self.assignment_weight(exact);
        if !fits {
            return None;
        }
        let coverage = s.policy.objective == Objective::Coverage;
        let col_of: std::collections::HashMap<usize, usize> = self
            .resources
            .iter()
            .enumerate()
            .map(|(i, &r)| (r, i))
            .collect();
        let row_of: std::collections::HashMap<usize, usize> = self
            .needs
            .iter()
            .enumerate()
            .map(|(i, &n)| (n, i))
            .collect();
        let money: Vec<i64> = self
            .edges
            .iter()
            .map(|&e| (net.edges[e].cost * kc as f64).round() as i64)
            .collect();
        let value: Vec<i64> = self
            .needs
            .iter()
            .map(|&n| (s.needs[n].priority * kp as f64).round() as i64)
            .collect();
        let build = |w: &dyn Fn(usize) -> i64| {
            let mut p = AssignmentProblem::sparse(rows, cols).ok()?;
            for (j, &e) in self.edges.iter().enumerate() {
                let edge = &net.edges[e];
                p.add(row_of[&edge.need()], col_of[&edge.resource()], w(j));
            }
            for (i, &n) in self.needs.iter().enumerate() {
                if s.needs[n].min_fill == 0.0 {
                    for d in real..cols {
                        p.cost[i * cols + d] = 0;
                    }
                }
            }
            Some(p)
        };
        let edge_row = |j: usize| row_of[&net.edges[self.edges[j]].need()];
        let plan = build(&|j| {
            let v = if coverage {
                m as i64 * value[edge_row(j)]
            } else {
                0
            };
            money[j] - v
        })?;
        let a = match solve_assignment_until(&plan, &|| self.out_of_time()) {
            Ok(a) => a,
            Err(AssignmentError::Stopped) => return Some(self.stopped(SolvedBy::Assignment)),
            Err(_) => return None,
        };
        let x: Vec<f64> = self
            .edges
            .iter()
            .map(|&e| {
                let edge = &net.edges[e];
                let chosen = a.col_of_row[row_of[&edge.need()]] == Some(col_of[&edge.resource()]);
                if chosen {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        if !self.prices {
            return Some(self.unpriced(SolvedBy::Assignment, x));
        }
        if let Some((shadow, marginal)) = self.assignment_gains(exact, &x) {
            return Some(SubResult::optimal(
                SolvedBy::Assignment,
                x,
                shadow,
                marginal,
            ));
        }
        // Duals of the stage that sets the main objective, where the part's flow network
        // leaves 64-bit integers.
        let (duals, scale) = if coverage {
            let v_only = build(&|j| -value[edge_row(j)])?;
            (solve_assignment(&v_only).ok()?, kp as f64)
        } else {
            (a, kc as f64)
        };
        let gain = |p: i64| positive(-(p as f64) / scale);
        Some(SubResult::optimal(
            SolvedBy::Assignment,
            x,
            (0..real)
                .map(|c| (self.resources[c], 0, gain(duals.col_potential[c])))
                .collect(),
            duals.row_potential.iter().map(|&u| gain(u)).collect(),
        ))
    }
}

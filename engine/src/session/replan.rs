//! Incremental re-planning: only the connected components of the residual graph that contain
//! a touched entity are solved again (all of them under fairness, which couples components;
//! all of them too when the coupling starts or ends).

use super::warm::WarmRefusal;
use super::Session;
use crate::model::{Resource, Scenario};
use crate::results::Report;
use crate::solve::{solve_live, SolveOptions, Status};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Where a touched entity lives.
#[derive(Clone, Copy)]
enum Node {
    Need(usize),
    Res(usize),
}

impl Session {
    /// Re-plan the components touched since the last re-plan, keeping the values the plan
    /// had before the first staged batch (the diff `flush` answers).
    pub(super) fn replan_touched(&mut self) {
        self.open_conflicts.take();
        let whole_policy = self.couples_groups();
        let dims = self.dims.len();
        // A session that left the warm model for what an open need held (an indivisible one,
        // a quantity off the scales) goes back to it at the first re-plan point where none
        // holds it, whatever the point touched (a dispatch may touch nothing), as its replay
        // does at the same logged point.
        let back_to_warm = self.warm_due(whole_policy);
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        let (tn, tr) = (
            std::mem::take(&mut p.needs),
            std::mem::take(&mut p.resources),
        );
        let cleared = (
            std::mem::take(&mut p.cleared_needs),
            std::mem::take(&mut p.cleared_resources),
        );
        // Nothing changed since the last re-plan (a refused dispatch's re-plan ran, or a
        // batch of retries): the plan stands. A whole re-plan here would not be a no-op for a
        // session that keeps LP bases: it would start from the bases the last one left, which
        // a replay of the log (one re-plan per logged point) would not do.
        if !back_to_warm
            && tn.is_empty()
            && tr.is_empty()
            && cleared.0.is_empty()
            && cleared.1.is_empty()
            && !p.stale
            && p.dims == dims
            && p.coupled == whole_policy
        {
            return;
        }
        let switched = p.coupled != whole_policy;
        let whole = p.dims != dims || whole_policy || switched || back_to_warm;
        p.dims = dims;
        p.coupled = whole_policy;
        if switched {
            // The kept bases are by stage, and the stages differ with the group rows and
            // without (max-min, value, cost against value, cost): start afresh.
            if let Some(starts) = self.lp_starts.as_mut() {
                *starts = Default::default();
            }
        }
        p.stale = false;
        p.dispatched.clear();
        // Taken only by a re-plan that runs (and logs its point), so that a replay, which
        // re-plans only at logged points, holds the same set at each.
        let relinked = std::mem::take(&mut self.relinked);
        self.replans_since_checkpoint += 1;
        self.replans_run += 1;
        let n = if self.warm.is_some() && !whole_policy && self.warm_shape(whole_policy) {
            match self.warm_replan(&tn, &tr, &cleared, &relinked) {
                Ok(n) => n,
                // Refused (a value off the model's integers or headroom, an infeasible
                // min_fill, ...): built anew from the whole state with fresh scales, or cold
                // from then on when that refuses too (`replan_all`).
                Err(_) => self.replan_all(),
            }
        } else if whole {
            self.replan_all()
        } else {
            self.replan(&tn, &tr)
        };
        if let Some(p) = self.pending.as_mut() {
            p.replanned += n;
        }
    }

    /// The residual scenario: open needs (their open part) and resources less their active
    /// dispatches, every session dimension present.
    pub fn residual_scenario(&self) -> Scenario {
        self.scenario_of(
            &(0..self.needs.len())
                .filter(|&i| self.is_open(i))
                .collect::<Vec<_>>(),
            &(0..self.resources.len()).collect::<Vec<_>>(),
        )
    }

    pub(super) fn scenario_of(&self, needs: &[usize], resources: &[usize]) -> Scenario {
        let mut res: Vec<Resource> = resources
            .iter()
            .map(|&i| self.residual[i].clone())
            .collect();
        if let Some(first) = res.first_mut() {
            for d in &self.dims {
                first.capacity.entry(d.clone()).or_insert(0.0);
            }
        }
        let mut policy = self.policy.clone();
        // Re-plans run on the shared pool (`solve_part`): a policy's `threads` would build a
        // pool of that many threads for every re-plan.
        policy.threads = None;
        if self.timed {
            policy.now_h = self.clock;
            policy.live_timed = true;
        }
        // The group ratios (fairness rows, the summary) are of the whole session.
        policy.group_base = self.group_base();
        Scenario {
            name: self.name.clone(),
            resources: res,
            needs: needs.iter().map(|&i| self.residual_need(i)).collect(),
            links: None,
            policy,
        }
    }

    /// Solve the whole residual scenario again. Returns the number of needs planned. A
    /// transportation session keeps the solve as its warm model (`warm.rs`).
    pub fn replan_all(&mut self) -> usize {
        self.open_conflicts.take();
        // Everything is planned anew from the state: no resource's links are pending.
        self.relinked.clear();
        self.warm = None;
        self.duals_cache = std::sync::OnceLock::new();
        if self.warm_on && !self.warm_off && self.warm_shape(self.couples_groups()) {
            match self.warm_build() {
                Ok(n) => return n,
                // What open needs hold: cold until none does (`warm_due`).
                Err(WarmRefusal::Shape | WarmRefusal::Quantities) => {}
                Err(WarmRefusal::Scale | WarmRefusal::Flow) => self.warm_off = true,
            }
        }
        let keys: Vec<(String, String)> = self.plan.keys().cloned().collect();
        for k in keys {
            self.plan_set(k, None);
        }
        self.marginal.clear();
        self.shadow.clear();
        self.trouble.clear();
        self.gaps.clear();
        let planned: Vec<String> = self.starts.keys().cloned().collect();
        for n in planned {
            self.set_start(&n, None);
        }
        let needs: Vec<usize> = (0..self.needs.len()).filter(|&i| self.is_open(i)).collect();
        let res: Vec<usize> = (0..self.resources.len()).collect();
        self.solve_part(&needs, &res);
        needs.len()
    }

    /// Re-plan the components that contain a touched entity.
    pub(super) fn replan(&mut self, tn: &BTreeSet<String>, tr: &BTreeSet<String>) -> usize {
        let mut seen_n = vec![false; self.needs.len()];
        let mut seen_r = vec![false; self.resources.len()];
        let mut queue: VecDeque<Node> = VecDeque::new();
        for n in tn {
            if let Some(&ni) = self.need_ix.get(n) {
                if !std::mem::replace(&mut seen_n[ni], true) {
                    queue.push_back(Node::Need(ni));
                }
            }
        }
        for r in tr {
            if let Some(&ri) = self.res_ix.get(r) {
                if !std::mem::replace(&mut seen_r[ri], true) {
                    queue.push_back(Node::Res(ri));
                }
            }
        }
        while let Some(node) = queue.pop_front() {
            match node {
                Node::Need(ni) => {
                    for r in &self.adj_need[ni] {
                        if !std::mem::replace(&mut seen_r[r as usize], true) {
                            queue.push_back(Node::Res(r as usize));
                        }
                    }
                }
                Node::Res(ri) => {
                    for n in &self.adj_res[ri] {
                        if !std::mem::replace(&mut seen_n[n as usize], true) {
                            queue.push_back(Node::Need(n as usize));
                        }
                    }
                }
            }
        }
        let needs: Vec<usize> = (0..seen_n.len())
            .filter(|&i| seen_n[i] && self.is_open(i))
            .collect();
        let res: Vec<usize> = (0..seen_r.len()).filter(|&i| seen_r[i]).collect();
        let sn: Vec<String> = (0..seen_n.len())
            .filter(|&i| seen_n[i])
            .map(|i| self.needs[i].id.clone())
            .collect();
        let sr: Vec<String> = res.iter().map(|&i| self.resources[i].id.clone()).collect();
        // Every plan entry of a closure need has its resource in the closure too (a link that
        // disappears touches both ends), so removing by resource clears the closure.
        for r in &sr {
            self.plan_remove_resource(r);
        }
        for n in &sn {
            self.marginal.remove(n);
            self.trouble.remove(n);
            self.gaps.remove(n);
            self.set_start(n, None);
        }
        for r in &sr {
            self.shadow.remove(r);
        }
        if !needs.is_empty() {
            self.solve_part(&needs, &res);
        }
        needs.len()
    }

    pub(super) fn solve_part(&mut self, needs: &[usize], resources: &[usize]) {
        let sub = self.scenario_of(needs, resources);
        if sub.needs.is_empty() {
            return;
        }
        // The shared rayon pool: no pool is built per re-plan, and the plan is the same
        // whatever the thread count (components are solved independently, merged in order).
        let opts = SolveOptions::default();
        let began = std::time::Instant::now();
        let (solved, failure) = solve_live(&sub, &opts, self.lp_starts.as_ref());
        // A solve that reached its time limit (a part stopped there, or steps after it cut
        // short, which may still answer `optimal`) made a plan that depends on timing: a
        // checkpoint of it is due, for a replay would not make it again. One that ended
        // before its limit checked nothing that could stop it.
        let limit = sub.policy.time_limit_s;
        if solved.solution.status == Status::TimeLimit
            || solved
                .solution
                .troubled
                .iter()
                .any(|&(_, st)| st == Status::TimeLimit)
            || limit.is_some_and(|t| began.elapsed().as_secs_f64() >= t)
        {
            self.timing_dependent = true;
        }
        if failure.is_some() {
            self.failure = failure;
        }
        if let Some(starts) = &self.lp_starts {
            starts.retain(
                |n| self.need_ix.get(n).is_some_and(|&i| self.is_open(i)),
                |r| self.res_ix.contains_key(r),
            );
        }
        let report = Report::new(&solved);
        for a in &report.allocations {
            self.plan_set((a.resource.clone(), a.need.clone()), Some(a.share));
        }
        for n in &report.needs {
            let timed = self.need(&n.id).is_some_and(|x| x.duration_h.is_some());
            if let (Some(at), true) = (n.start_h, timed) {
                self.set_start(&n.id, Some(at));
            }
        }
        let (marginal, shadow) = report_duals(&report);
        self.marginal.extend(marginal);
        self.shadow.extend(shadow);
        // Part by part (the solve isolates a live session's parts): a need is in trouble when
        // its own component has no optimal plan. A failed solve has no parts: all of it is.
        let troubled = &solved.solution.troubled;
        if report.summary.status == Status::Error || troubled.is_empty() {
            if report.summary.status != Status::Optimal {
                for n in &sub.needs {
                    self.trouble.insert(n.id.clone(), report.summary.status);
                }
            }
        } else {
            for &(n, status) in troubled {
                self.trouble.insert(sub.needs[n].id.clone(), status);
            }
        }
        // A gap without bound (no dual bound yet) is none known (JSON has no infinity).
        for &(n, gap) in solved.solution.part_gaps.iter().filter(|g| g.1.is_finite()) {
            self.gaps.insert(sub.needs[n].id.clone(), gap);
        }
    }
}

/// The marginal values (non-zero) and shadow prices (non-zero, per dimension) of a report.
pub(super) fn report_duals(report: &Report) -> super::warm::Duals {
    let marginal = report
        .needs
        .iter()
        .filter_map(|n| Some((n.id.clone(), n.marginal_value.filter(|&v| v != 0.0)?)))
        .collect();
    let shadow = report
        .resources
        .iter()
        .filter_map(|r| {
            let prices: BTreeMap<String, f64> = report
                .dims
                .iter()
                .zip(&r.shadow_price)
                .filter_map(|(d, p)| p.filter(|&p| p != 0.0).map(|p| (d.clone(), p)))
                .collect();
            (!prices.is_empty()).then(|| (r.id.clone(), prices))
        })
        .collect();
    (marginal, shadow)
}

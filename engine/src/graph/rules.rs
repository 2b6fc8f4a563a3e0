//! SPEC section 2's link rules for one pair, and the exclusion reason a planner reads.

use super::{distance, Edge};
use crate::model::{snap_time, Need, Policy, Resource, Scenario};
use std::cmp::Ordering;
use std::collections::HashMap;

/// Why SPEC's link rules exclude a pair: the first rule (in SPEC order) that fails.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Rule 5 over time: no candidate start of the need is usable on this link (ready by
    /// `available_from + time`, and back with its turnaround by `available_until`).
    Start {
        first_start_h: f64,
        last_start_h: f64,
        ready_h: f64,
        /// `available_until - duration_h - turnaround_h`: the latest start that is back in
        /// time, when the resource has an end.
        latest_start_h: Option<f64>,
    },
}

impl Excluded {
    /// How many of the link rules the resource passed before this one excluded it, in the
    /// order `check_link` tests them (kind, community, skills, capacity, distance, time): a
    /// resource excluded by distance has the kind, community, skills and capacity the need
    /// asks for, so it is a nearer miss than one next door of another kind.
    pub fn rules_passed(&self) -> u8 {
        match self {
            Excluded::Kind { .. } => 0,
            Excluded::Community { .. } => 1,
            Excluded::Skills { .. } => 2,
            Excluded::Capacity { .. } => 3,
            Excluded::Distance { .. } => 4,
            Excluded::Deadline { .. } | Excluded::Window { .. } | Excluded::Start { .. } => 5,
        }
    }

    /// Whether the rule is SPEC's rule 5, the time rule (the need's deadline, the resource's
    /// window).
    pub fn is_time_rule(&self) -> bool {
        matches!(
            self,
            Excluded::Deadline { .. } | Excluded::Window { .. } | Excluded::Start { .. }
        )
    }
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
            Excluded::Start { first_start_h, last_start_h, ready_h, latest_start_h } => {
                write!(
                    f,
                    "no start between hour {first_start_h} and hour {last_start_h} fits: ready at hour {ready_h:.2}"
                )?;
                match latest_start_h {
                    Some(h) => write!(f, ", and a use must start by hour {h:.2} to be back in time"),
                    None => Ok(()),
                }
            }
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
        if q > 0.0 && !has_capacity(cap) {
            return Err(Excluded::Capacity {
                dimension: dim.clone(),
            });
        }
    }
    let edge = finish_link(
        ri,
        &ResourceTerms::of(r),
        ni,
        n,
        distance(r, n),
        policy,
        std::convert::identity,
    )?;
    check_starts(r, n, edge.time(), policy)?;
    Ok(edge)
}

/// Rule 5 over time, for a link from `r` to `n` taking `time` hours (built by the rules or
/// listed): a need with a duration under the time model must have a usable start on it.
pub(crate) fn check_starts(
    r: &Resource,
    n: &Need,
    time: Option<f64>,
    policy: &Policy,
) -> Result<(), Excluded> {
    if let (false, Some(duration)) = (policy.reusable.is_empty(), n.duration_h) {
        let ready = ready_at(r, time, policy);
        if usable_starts(r, n, ready, policy.slot(), policy.now_h)
            .next()
            .is_none()
        {
            let starts: Vec<f64> = n.starts(policy.slot()).collect();
            return Err(Excluded::Start {
                first_start_h: starts[0],
                last_start_h: starts[starts.len() - 1],
                ready_h: ready,
                latest_start_h: r
                    .available_until
                    .map(|u| u - duration - r.turnaround_h.unwrap_or(0.0)),
            });
        }
    }
    Ok(())
}

/// For each of `needs` (positions), the resources that would serve it but for SPEC's rule 5,
/// the time rule, each with the rule's numbers: of the scenario's listed links to the need,
/// those without a usable start (the only listed links the time model drops); with links
/// built by the rules, the resources that every other rule lets through. A `time`
/// explanation lists them, and they put the need's `window` in an infeasibility's conflict.
/// One pass over the listed links for all `needs`.
pub fn excluded_by_time(s: &Scenario, needs: &[usize]) -> Vec<Vec<(usize, Excluded)>> {
    let mut out = vec![Vec::new(); needs.len()];
    match &s.links {
        Some(links) => {
            let slot: HashMap<&str, usize> = needs
                .iter()
                .enumerate()
                .map(|(k, &n)| (s.needs[n].id.as_str(), k))
                .collect();
            let mut resource_of: Option<HashMap<&str, usize>> = None;
            for l in links {
                let Some(&k) = slot.get(l.need.as_str()) else {
                    continue;
                };
                let rix = resource_of.get_or_insert_with(|| {
                    s.resources
                        .iter()
                        .enumerate()
                        .map(|(i, r)| (r.id.as_str(), i))
                        .collect()
                });
                let Some(&ri) = rix.get(l.resource.as_str()) else {
                    continue;
                };
                let need = &s.needs[needs[k]];
                if let Err(e) = check_starts(&s.resources[ri], need, l.time, &s.policy) {
                    out[k].push((ri, e));
                }
            }
        }
        None => {
            for (k, &n) in needs.iter().enumerate() {
                for (ri, r) in s.resources.iter().enumerate() {
                    if let Err(e) = check_link(ri, r, n, &s.needs[n], &s.policy) {
                        if e.is_time_rule() {
                            out[k].push((ri, e));
                        }
                    }
                }
            }
        }
    }
    out
}

/// The first hour a link from `r` taking `time` hours can start a use: SPEC's
/// `available_from + time`, and never before a live session's clock (`policy.now_h`).
pub(crate) fn ready_at(r: &Resource, time: Option<f64>, policy: &Policy) -> f64 {
    let ready = r.available_from.unwrap_or(0.0) + time.unwrap_or(0.0);
    policy.now_h.map_or(ready, |now| ready.max(now))
}

/// The starts of need `n` (with a duration) usable on a link from `r` that is ready at hour
/// `ready` (`available_from + time`, never before a live session's clock): SPEC's
/// `s >= ready` and, when the resource has an end, `s + duration_h + turnaround_h <=
/// available_until`. Each with the end of its occupation.
///
/// In a live session (`now`, the clock) a need whose window is open can also start at the
/// clock itself, between two grid starts, on a link ready then: a loan planned for hour 5 and
/// handed over at 5.5 is booked from 5.5 (the next grid start, 9, was booked instead, with
/// the item recorded free while it was out, and lent again).
pub fn usable_starts<'a>(
    r: &'a Resource,
    n: &'a Need,
    ready: f64,
    slot: f64,
    now: Option<f64>,
) -> impl Iterator<Item = (f64, f64)> + 'a {
    let busy = n.duration_h.unwrap_or(0.0) + r.turnaround_h.unwrap_or(0.0);
    let ready = snap_time(ready);
    let until = r.available_until.map(snap_time);
    let now_start = now.map(snap_time).filter(|&t| {
        t == ready
            && n.earliest.unwrap_or(0.0) < t
            && n.deadline.is_some_and(|d| t <= d)
            && n.duration_h.is_some()
            && !n.is_start(slot, t)
    });
    now_start
        .into_iter()
        .chain(n.starts(slot))
        .map(move |s| (s, snap_time(s + busy)))
        .filter(move |&(s, end)| s >= ready && until.is_none_or(|u| end <= u))
}

/// Whether `a` and `b`, the same resource before and after a change of its capacities
/// alone, link the same needs: the rules read a capacity only through [`has_capacity`], and
/// the time model's holds are not compared here (callers leave timed sessions out).
pub(crate) fn links_alike_by_capacity(a: &Resource, b: &Resource) -> bool {
    let dims = a.capacity.keys().chain(b.capacity.keys());
    dims.into_iter().all(|d| {
        let cap = |r: &Resource| r.capacity.get(d).copied().unwrap_or(0.0);
        has_capacity(cap(a)) == has_capacity(cap(b))
    })
}

/// Rule 3's test of a resource's capacity in a demanded dimension (`cap <= 0` excludes).
pub(super) fn has_capacity(cap: f64) -> bool {
    !matches!(
        cap.partial_cmp(&0.0),
        Some(Ordering::Less | Ordering::Equal)
    )
}

/// What rules 4 and 5 and a link's cost read of a resource.
#[derive(Debug, Clone, Copy)]
pub(super) struct ResourceTerms {
    cost: f64,
    available_from: Option<f64>,
    available_until: Option<f64>,
}

impl ResourceTerms {
    pub(super) fn of(r: &Resource) -> ResourceTerms {
        ResourceTerms {
            cost: r.cost,
            available_from: r.available_from,
            available_until: r.available_until,
        }
    }
}

/// Rules 4 and 5 and the link itself, once rules 1, 6, 2 and 3 have passed: shared by
/// [`check_link`] and the link builder's interned path, so both decide alike.
///
/// The reason for an exclusion goes through `excluded`: the builder maps it to `()`, so its
/// result is a plain `Option<Edge>` in registers (a `Result` carrying `Excluded`, whose other
/// variants hold strings, would go through memory for every link built).
#[inline]
pub(super) fn finish_link<E>(
    ri: usize,
    r: &ResourceTerms,
    ni: usize,
    n: &Need,
    dist: Option<f64>,
    policy: &Policy,
    excluded: impl FnOnce(Excluded) -> E,
) -> Result<Edge, E> {
    if let (Some(d), Some(max)) = (dist, policy.max_distance_km) {
        if d > max {
            return Err(excluded(Excluded::Distance {
                distance_km: d,
                max_distance_km: max,
            }));
        }
    }
    let time = match (dist, policy.speed_kmh) {
        (Some(d), Some(v)) => Some(d / v),
        _ => None,
    };
    let t = time.unwrap_or(0.0);
    if let Some(deadline) = n.deadline {
        // In a live session nothing arrives before the clock: a need without a duration
        // whose deadline has passed is out of reach (it was still planned and dispatched
        // after it). A need with one has its rule 5 in its starts, which the clock bounds.
        let base = r.available_from.unwrap_or(0.0) + t;
        let arrival = match (policy.now_h, n.duration_h) {
            (Some(now), None) => base.max(now),
            _ => base,
        };
        if arrival > deadline {
            return Err(excluded(Excluded::Deadline {
                arrival_h: arrival,
                deadline_h: deadline,
            }));
        }
    }
    if let (Some(until), Some(earliest)) = (r.available_until, n.earliest) {
        if until < earliest {
            return Err(excluded(Excluded::Window {
                available_until_h: until,
                earliest_h: earliest,
            }));
        }
    }
    Ok(Edge::new(
        ri,
        ni,
        r.cost + policy.cost_per_km * dist.unwrap_or(0.0),
        time,
    ))
}

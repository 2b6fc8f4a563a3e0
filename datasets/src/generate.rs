//! Seeded scenario generators for the four pilots CommonsNet was designed around (SPEC
//! section 5). Each returns the scenario as a JSON value in the SPEC section 3 layout; callers
//! validate it with the engine like any other input, so a generator cannot produce a scenario
//! the engine would reject without a test noticing.
//!
//! Where the numbers come from is written next to them and summarised in `datasets/README.md`.

use commonsnet_engine::batch::{ScenarioSource, SourceError};
use commonsnet_engine::seeds::{scenario_seed, SplitMix64};
use commonsnet_engine::{scenario_from_value, InvalidInput, Scenario};
use serde_json::{json, Map, Value};
use std::borrow::Cow;

/// The generators' names, as `commonsnet generate NAME` and job requests spell them.
pub const GENERATORS: [&str; 4] = ["urban", "rural", "intentional", "disaster"];

/// Largest accepted scale: scale 1 is a few hundred needs; 200 is ~20-60k needs. Two
/// generators stop earlier ([`Generator::max_scale`]).
pub const MAX_SCALE: f64 = 200.0;

/// One of the four pilot generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    Urban,
    Rural,
    Intentional,
    Disaster,
}

impl Generator {
    /// In the order of [`GENERATORS`].
    pub const ALL: [Generator; 4] = [
        Generator::Urban,
        Generator::Rural,
        Generator::Intentional,
        Generator::Disaster,
    ];

    pub fn name(self) -> &'static str {
        GENERATORS[self as usize]
    }

    /// This generator's scenario at `scale` (counts of entities grow linearly with it) from
    /// `seed`, as a SPEC section 3 JSON value (a snapshot: no durations).
    pub fn generate(self, scale: f64, seed: u64) -> Result<Value, GenerateError> {
        self.generate_with(scale, seed, Clock::Snapshot)
    }

    /// [`Generator::generate`] with the time model when `clock` is [`Clock::Timed`]: the same
    /// entities, then the loans, stays, jobs and shifts of [`Gen::add_time`] drawn from their
    /// own random stream, so a snapshot is the same with or without this option. A timed
    /// scenario's slot is as [`Generator::fit_slot`] leaves it.
    pub fn generate_with(
        self,
        scale: f64,
        seed: u64,
        clock: Clock,
    ) -> Result<Value, GenerateError> {
        let mut value = self.generate_raw(scale, seed, clock)?;
        self.fit_slot(&mut value, clock);
        Ok(value)
    }

    /// A timed scenario whose time model would pass the engine's bound at its slot (its
    /// (link, start) pairs grow with needs times resources, so past a scale of about 50) takes
    /// the slot doubled until it fits, at most ten times: every scale in range makes a valid
    /// scenario, and a scenario that fits keeps its slot. The last validation (`None` for a
    /// snapshot, which is left as it is).
    fn fit_slot(self, value: &mut Value, clock: Clock) -> Option<Result<Scenario, InvalidInput>> {
        if clock != Clock::Timed {
            return None;
        }
        let mut checked = scenario_from_value(value);
        for _ in 0..10 {
            let too_large = checked.as_ref().is_err_and(|e| {
                e.issues
                    .iter()
                    .any(|i| i.table == "policy" && i.field.as_deref() == Some("slot_h"))
            });
            if !too_large {
                break;
            }
            let slot = value["policy"]["slot_h"].as_f64().unwrap_or(1.0);
            value["policy"]["slot_h"] = json!(slot * 2.0);
            checked = scenario_from_value(value);
        }
        Some(checked)
    }

    /// The largest scale whose scenarios pass the engine's bounds: the disaster generator's
    /// rule links grow with needs times resources (past 40,000,000 at a scale of about 124,
    /// seed 0), and a timed scenario's (link, start) pairs do too, which no slot brings under
    /// 5,000,000 once each need has one start (seed 0: urban fails at 54, disaster at 44,
    /// rural at 185, intentional at 195). Each limit keeps a margin below where seed 0 fails,
    /// and seeds 0-7 pass at it.
    pub fn max_scale(self, clock: Clock) -> f64 {
        match (self, clock) {
            (Generator::Disaster, Clock::Snapshot) => 120.0,
            (Generator::Disaster, Clock::Timed) => 40.0,
            (Generator::Urban, Clock::Timed) => 48.0,
            (Generator::Rural, Clock::Timed) => 170.0,
            (Generator::Intentional, Clock::Timed) => 180.0,
            _ => MAX_SCALE,
        }
    }

    /// Refuse a scale outside `(0, max_scale]`, naming this generator's bound.
    pub fn check_scale(self, scale: f64, clock: Clock) -> Result<(), GenerateError> {
        let max = self.max_scale(clock);
        if scale > 0.0 && scale <= max {
            Ok(())
        } else {
            Err(GenerateError::Scale {
                scale,
                max,
                generator: self,
                timed: clock == Clock::Timed,
            })
        }
    }

    fn generate_raw(self, scale: f64, seed: u64, clock: Clock) -> Result<Value, GenerateError> {
        self.check_scale(scale, clock)?;
        let mut g = Gen {
            rng: SplitMix64::new(seed ^ 0xC0FF_EE00_D15A_57E5),
            scale,
            resources: Vec::new(),
            needs: Vec::new(),
        };
        let policy = match self {
            Generator::Urban => g.urban(),
            Generator::Rural => g.rural(),
            Generator::Intentional => g.intentional(),
            Generator::Disaster => g.disaster(),
        };
        let mut policy = policy;
        if clock == Clock::Timed {
            g.rng = SplitMix64::new(seed ^ 0x7105_7105_C10C_4A11);
            g.add_time(self, &mut policy);
        }
        Ok(json!({
            "name": scenario_name(self.name(), clock, scale, seed),
            "resources": g.resources,
            "needs": g.needs,
            "policy": policy,
        }))
    }

    /// [`Generator::generate_with`], validated by the engine.
    pub fn scenario(self, scale: f64, seed: u64, clock: Clock) -> Result<Scenario, GenerateError> {
        self.generate_checked(scale, seed, clock).map(|(_, s)| s)
    }

    /// [`Generator::generate_with`] and its validation, both: a timed scenario's is the one
    /// [`Generator::fit_slot`] made, not done again.
    pub fn generate_checked(
        self,
        scale: f64,
        seed: u64,
        clock: Clock,
    ) -> Result<(Value, Scenario), GenerateError> {
        let mut value = self.generate_raw(scale, seed, clock)?;
        let checked = match self.fit_slot(&mut value, clock) {
            Some(checked) => checked,
            None => scenario_from_value(&value),
        };
        match checked {
            Ok(s) => Ok((value, s)),
            Err(source) => Err(GenerateError::Invalid {
                generator: self,
                source,
            }),
        }
    }
}

impl std::fmt::Display for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Generator {
    type Err = GenerateError;

    fn from_str(name: &str) -> Result<Self, GenerateError> {
        Generator::ALL
            .into_iter()
            .find(|g| g.name() == name)
            .ok_or_else(|| GenerateError::UnknownGenerator(name.to_string()))
    }
}

/// Why a generator made no scenario.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("scale {scale} is not in (0, {max}]{what}", what = scale_bound(*generator, *timed, *max))]
    Scale {
        scale: f64,
        max: f64,
        generator: Generator,
        timed: bool,
    },
    #[error("unknown generator {0:?}: expected one of {list}", list = GENERATORS.join(", "))]
    UnknownGenerator(String),
    /// A generator bug: its scenario does not pass the engine's validation.
    #[error("generator {generator} made an invalid scenario: {source}")]
    Invalid {
        generator: Generator,
        source: InvalidInput,
    },
}

/// Whether a generated scenario has SPEC's time model (loans, stays and shifts with durations
/// on reusable dimensions) or is a snapshot (every capacity a total), as before the time
/// model: snapshots stay the default so that seeded runs made before it are reproduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    #[default]
    Snapshot,
    Timed,
}

/// What a generator's own scale bound is, when it is below [`MAX_SCALE`].
fn scale_bound(generator: Generator, timed: bool, max: f64) -> String {
    if max < MAX_SCALE {
        let clock = if timed { "timed " } else { "" };
        format!(
            " (the largest {clock}{generator} scenarios that fit the engine's bounds on links \
             and time-model columns)"
        )
    } else {
        String::new()
    }
}

/// Generate scenario `name` at `scale` (counts of entities grow linearly with it) from `seed`.
pub fn generate(name: &str, scale: f64, seed: u64) -> Result<Value, GenerateError> {
    name.parse::<Generator>()?.generate(scale, seed)
}

/// The `name` of the scenario [`Generator::generate_with`] makes, known without making it.
pub fn scenario_name(name: &str, clock: Clock, scale: f64, seed: u64) -> String {
    match clock {
        Clock::Snapshot => format!("{name}-x{scale}-s{seed}"),
        Clock::Timed => format!("{name}-timed-x{scale}-s{seed}"),
    }
}

/// [`generate`], validated by the engine.
pub fn generate_scenario(name: &str, scale: f64, seed: u64) -> Result<Scenario, GenerateError> {
    generate_scenario_with(name, scale, seed, Clock::Snapshot)
}

/// [`generate_scenario`] with or without the time model.
pub fn generate_scenario_with(
    name: &str,
    scale: f64,
    seed: u64,
    clock: Clock,
) -> Result<Scenario, GenerateError> {
    name.parse::<Generator>()?.scenario(scale, seed, clock)
}

/// The scenarios of a batch made by a generator, each when its run starts: scenario `i` is
/// generator `name` at `scale` with seed [`scenario_seed`]`(seed, i)` (SPEC section 5, the
/// same for `commonsnet simulate` and for jobs).
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub name: String,
    pub scale: f64,
    pub count: usize,
    pub seed: u64,
    pub clock: Clock,
}

impl Generated {
    fn seed_of(&self, index: usize) -> u64 {
        scenario_seed(self.seed, index)
    }
}

impl ScenarioSource for Generated {
    fn count(&self) -> usize {
        self.count
    }

    fn label(&self, index: usize) -> String {
        scenario_name(&self.name, self.clock, self.scale, self.seed_of(index))
    }

    fn scenario(&self, index: usize) -> Result<Cow<'_, Scenario>, SourceError> {
        Ok(Cow::Owned(generate_scenario_with(
            &self.name,
            self.scale,
            self.seed_of(index),
            self.clock,
        )?))
    }
}

struct Gen {
    rng: SplitMix64,
    scale: f64,
    resources: Vec<Value>,
    needs: Vec<Value>,
}

/// Append an entity with the next id (`r1`, `r2`, ... or `n1`, ...), the id first.
fn push(list: &mut Vec<Value>, prefix: &str, fields: Value) {
    let mut m = Map::new();
    m.insert("id".into(), format!("{prefix}{}", list.len() + 1).into());
    if let Value::Object(f) = fields {
        m.extend(f);
    }
    list.push(Value::Object(m));
}

/// Kilometres per degree of latitude.
const KM_PER_DEG: f64 = 111.32;

fn round(x: f64, step: f64) -> f64 {
    (x / step).round() * step
}

impl Gen {
    /// `base` entities at scale 1, at least one.
    fn count(&self, base: f64) -> usize {
        (base * self.scale).round().max(1.0) as usize
    }

    /// A point `dx`, `dy` km east and north of (lat, lon), rounded to ~1 m.
    fn offset(lat: f64, lon: f64, dx: f64, dy: f64) -> (f64, f64) {
        let la = lat + dy / KM_PER_DEG;
        let lo = lon + dx / (KM_PER_DEG * lat.to_radians().cos());
        (round(la, 1e-5), round(lo, 1e-5))
    }

    /// A point scattered around (lat, lon) with a normal spread of `sd_km`.
    fn around(&mut self, lat: f64, lon: f64, sd_km: f64) -> (f64, f64) {
        let (dx, dy) = (self.rng.normal() * sd_km, self.rng.normal() * sd_km);
        Self::offset(lat, lon, dx, dy)
    }

    /// Picks an index with the given relative weights.
    fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut u = self.rng.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if u < *w {
                return i;
            }
            u -= w;
        }
        weights.len() - 1
    }

    /// An urban neighbourhood sharing tools, skills and meals. Blocks of ~25 households
    /// (communities) on a 400 m grid; everything within walking distance (4.5 km/h, 1.5 km).
    fn urban(&mut self) -> Value {
        let (lat0, lon0) = (59.3326, 18.0649);
        let blocks = self.count(4.0);
        let side = (blocks as f64).sqrt().ceil() as usize;
        // Popularity of tool loans, from tool-library loan statistics (drills lead by far).
        let tools = [
            ("drill", 5.0),
            ("ladder", 3.0),
            ("lawnmower", 2.0),
            ("pressure_washer", 1.5),
            ("sewing_machine", 1.0),
        ];
        let skills = ["plumbing", "electrical", "childcare", "tutoring", "repair"];
        let tool_weights: Vec<f64> = tools.iter().map(|t| t.1).collect();
        for b in 0..blocks {
            let community = format!("block-{:02}", b + 1);
            let (cx, cy) = ((b % side) as f64 * 0.4, (b / side) as f64 * 0.4);
            let (blat, blon) = Self::offset(lat0, lon0, cx, cy);
            let households = self.rng.int(15, 35);
            for _ in 0..households {
                let (lat, lon) = self.around(blat, blon, 0.12);
                // Household size: mean ~2 (urban Europe), elderly households ~30%.
                let size = 1 + self.pick(&[40.0, 30.0, 15.0, 10.0, 5.0]) as u64;
                let elderly = self.rng.chance(0.3);
                if self.rng.chance(0.5) {
                    let t = self.pick(&tool_weights);
                    push(
                        &mut self.needs,
                        "n",
                        json!({"community": community, "kind": "tool",
                        "lat": lat, "lon": lon, "demand": {"loans": 1},
                        "required_skills": [tools[t].0], "indivisible": true, "priority": 1}),
                    );
                }
                if self.rng.chance(0.3) {
                    let skill = skills[self.rng.int(0, 4) as usize];
                    let hours = self.rng.int(1, 4);
                    let priority = if elderly { 3 } else { 1 + self.rng.int(0, 1) };
                    push(
                        &mut self.needs,
                        "n",
                        json!({"community": community, "kind": "skill",
                        "lat": lat, "lon": lon, "demand": {"volunteer_h": hours},
                        "required_skills": [skill], "priority": priority,
                        "earliest": 0, "deadline": 24 * self.rng.int(1, 3)}),
                    );
                }
                if self.rng.chance(if elderly { 0.45 } else { 0.15 }) {
                    // Meals for a week of evenings for the household (one per person per day).
                    let meals = size * 7;
                    let priority = if elderly { 2 } else { 1 };
                    push(
                        &mut self.needs,
                        "n",
                        json!({"community": community, "kind": "meal",
                        "lat": lat, "lon": lon, "demand": {"meals": meals},
                        "priority": priority}),
                    );
                }
            }
            // Neighbours lending their own tools: a loan a week each.
            for _ in 0..self.rng.int(3, 6) {
                let t = self.pick(&tool_weights);
                let (lat, lon) = self.around(blat, blon, 0.12);
                push(
                    &mut self.resources,
                    "r",
                    json!({"community": community, "kind": "tool",
                    "lat": lat, "lon": lon, "capacity": {"loans": self.rng.int(1, 2)},
                    "skills": [tools[t].0]}),
                );
            }
            // Volunteers with one or two skills and a few hours a week.
            for _ in 0..self.rng.int(2, 5) {
                let (lat, lon) = self.around(blat, blon, 0.12);
                let a = skills[self.rng.int(0, 4) as usize];
                let b = skills[self.rng.int(0, 4) as usize];
                let mut s = vec![a];
                if b != a && self.rng.chance(0.5) {
                    s.push(b);
                }
                push(
                    &mut self.resources,
                    "r",
                    json!({"community": community, "kind": "skill",
                    "lat": lat, "lon": lon, "capacity": {"volunteer_h": self.rng.int(3, 10)},
                    "skills": s, "available_from": 0, "available_until": 72}),
                );
            }
            // Every other block hosts a tool library, every third a community kitchen.
            if b % 2 == 0 {
                for (name, _) in tools {
                    push(
                        &mut self.resources,
                        "r",
                        json!({"community": community, "kind": "tool",
                        "lat": blat, "lon": blon, "capacity": {"loans": self.rng.int(3, 6)},
                        "skills": [name], "cost": 1}),
                    );
                }
            }
            if b % 3 == 0 {
                push(
                    &mut self.resources,
                    "r",
                    json!({"community": community, "kind": "meal",
                    "lat": blat, "lon": blon, "capacity": {"meals": 10 * self.rng.int(20, 40)},
                    "cost": 2}),
                );
            }
        }
        json!({"objective": "coverage", "max_distance_km": 1.5, "speed_kmh": 4.5})
    }

    /// A rural community sharing machinery and seasonal labour across farms during harvest:
    /// few large resources, distances of tens of km, time windows in hours over two weeks.
    fn rural(&mut self) -> Value {
        let (lat0, lon0) = (45.05, 1.10);
        let villages = self.count(3.0);
        let farms = self.count(12.0);
        let centres: Vec<(f64, f64)> = (0..villages)
            .map(|_| self.around(lat0, lon0, 12.0))
            .collect();
        for f in 0..farms {
            let v = f % villages;
            let community = format!("village-{:02}", v + 1);
            let (lat, lon) = self.around(centres[v].0, centres[v].1, 4.0);
            // Cereal farm of 20-150 ha; a combine harvests ~2.5 ha/h (Agrarheute/ASABE figures).
            let ha = self.rng.range(20.0, 150.0);
            let ripe_day = self.rng.int(0, 7) as f64;
            let window = self.rng.int(4, 8) as f64;
            push(
                &mut self.needs,
                "n",
                json!({"community": community, "kind": "harvest",
                "lat": lat, "lon": lon, "demand": {"machine_h": round(ha / 2.5, 0.5)},
                "required_skills": ["combine"], "priority": round(ha / 20.0, 0.1),
                "earliest": ripe_day * 24.0, "deadline": (ripe_day + window) * 24.0}),
            );
            if self.rng.chance(0.6) {
                // Baling straw: ~6 ha/h, right after the harvest.
                push(
                    &mut self.needs,
                    "n",
                    json!({"community": community, "kind": "harvest",
                    "lat": lat, "lon": lon, "demand": {"machine_h": round(ha / 6.0, 0.5)},
                    "required_skills": ["baler"], "priority": round(ha / 60.0, 0.1),
                    "earliest": (ripe_day + 1.0) * 24.0,
                    "deadline": (ripe_day + window + 3.0) * 24.0}),
                );
            }
            // Seasonal labour: ~1.5 h of hand work per ha (grading, hauling, storage).
            push(
                &mut self.needs,
                "n",
                json!({"community": community, "kind": "labour",
                "lat": lat, "lon": lon, "demand": {"labour_h": round(ha * 1.5, 1.0)},
                "priority": round(ha / 40.0, 0.1),
                "earliest": ripe_day * 24.0, "deadline": (ripe_day + window + 2.0) * 24.0}),
            );
        }
        // A machinery co-operative (CUMA-style): one combine per ~4 farms, a baler per ~5.
        // (machines per scale unit, machine hours / 10, skill, cost per job, latest start day)
        let machines = [
            (3.0, (12, 20), "combine", 60, 2),
            (2.4, (6, 12), "baler", 30, 3),
        ];
        for (per_scale, (lo, hi), skill, cost, start) in machines {
            for i in 0..self.count(per_scale) {
                let v = i % villages;
                let (lat, lon) = self.around(centres[v].0, centres[v].1, 2.0);
                push(
                    &mut self.resources,
                    "r",
                    json!({"community": format!("village-{:02}", v + 1),
                    "kind": "harvest", "lat": lat, "lon": lon,
                    "capacity": {"machine_h": 10 * self.rng.int(lo, hi)}, "skills": [skill],
                    "cost": cost, "available_from": 24 * self.rng.int(0, start),
                    "available_until": 14 * 24}),
                );
            }
        }
        for i in 0..self.count(4.0) {
            let v = i % villages;
            let (lat, lon) = self.around(centres[v].0, centres[v].1, 3.0);
            // A crew of 4-8 seasonal workers, 8 h a day over the two weeks, partly committed.
            let crew = self.rng.int(4, 8) as f64;
            push(
                &mut self.resources,
                "r",
                json!({"community": format!("village-{:02}", v + 1),
                "kind": "labour", "lat": lat, "lon": lon,
                "capacity": {"labour_h": round(crew * 8.0 * self.rng.range(3.0, 8.0), 1.0)},
                "cost": 0, "available_from": 0, "available_until": 14 * 24}),
            );
        }
        json!({"objective": "coverage", "fairness": "maxmin", "group_by": "community",
            "max_distance_km": 40, "speed_kmh": 40, "cost_per_km": 1.5})
    }

    /// An intentional (co-housing) community allocating shared cars, guest rooms, workshop time
    /// and garden plots by shared priorities: no distances, indivisible items, max-min fairness
    /// across the houses.
    fn intentional(&mut self) -> Value {
        let houses = self.count(4.0);
        let households = self.count(28.0);
        for h in 0..households {
            let community = format!("house-{:02}", h % houses + 1);
            // Shared priorities agreed by the community: care and children first.
            let care = self.rng.chance(0.2);
            let children = self.rng.chance(0.35);
            let boost = 1.0 + if care { 1.0 } else { 0.0 } + if children { 0.5 } else { 0.0 };
            if self.rng.chance(0.8) {
                let hours = self.rng.int(2, 10);
                push(
                    &mut self.needs,
                    "n",
                    json!({"community": community, "kind": "car",
                    "demand": {"car_h": hours}, "priority": boost}),
                );
            }
            if self.rng.chance(0.25) {
                // A visitor's stay is one booking: all nights in one room.
                push(
                    &mut self.needs,
                    "n",
                    json!({"community": community, "kind": "guest_room",
                    "demand": {"nights": self.rng.int(1, 4)}, "indivisible": true,
                    "priority": 1}),
                );
            }
            if self.rng.chance(0.4) {
                push(
                    &mut self.needs,
                    "n",
                    json!({"community": community, "kind": "workshop",
                    "demand": {"bench_h": self.rng.int(2, 8)}, "priority": 1}),
                );
            }
            if self.rng.chance(0.3) {
                push(
                    &mut self.needs,
                    "n",
                    json!({"community": community, "kind": "plot",
                    "demand": {"plots": 1}, "indivisible": true, "min_fill": 0,
                    "priority": round(boost, 0.5)}),
                );
            }
        }
        let commons = "commons";
        for _ in 0..self.count(3.0) {
            push(
                &mut self.resources,
                "r",
                json!({"community": commons, "kind": "car",
                "capacity": {"car_h": 10 * self.rng.int(3, 6)}, "cost": 4}),
            );
        }
        for _ in 0..self.count(2.0) {
            push(
                &mut self.resources,
                "r",
                json!({"community": commons, "kind": "guest_room",
                "capacity": {"nights": 7}}),
            );
        }
        let bench_h = 10 * self.count(4.0);
        push(
            &mut self.resources,
            "r",
            json!({"community": commons, "kind": "workshop",
            "capacity": {"bench_h": bench_h}}),
        );
        for _ in 0..self.count(6.0) {
            push(
                &mut self.resources,
                "r",
                json!({"community": commons, "kind": "plot",
                "capacity": {"plots": 1}}),
            );
        }
        json!({"objective": "coverage", "fairness": "maxmin", "group_by": "community"})
    }

    /// A flood or earthquake: districts hit unequally (severity falls with distance from the
    /// epicentre, times a local vulnerability), shelters, water, medical teams and volunteers
    /// from the less affected districts and depots; deadlines in hours.
    fn disaster(&mut self) -> Value {
        let (lat0, lon0) = (43.72, 10.40);
        let districts = self.count(6.0);
        let mut centres = Vec::with_capacity(districts);
        let mut severity = Vec::with_capacity(districts);
        for _ in 0..districts {
            let (dx, dy) = (self.rng.normal() * 8.0, self.rng.normal() * 8.0);
            let d = (dx * dx + dy * dy).sqrt();
            centres.push(Self::offset(lat0, lon0, dx, dy));
            severity.push((-d / 8.0).exp() * self.rng.range(0.5, 1.5));
        }
        let triage = ["triage", "trauma", "dialysis", "mental_health"];
        for (d, &sev) in severity.iter().enumerate() {
            let community = format!("district-{:02}", d + 1);
            let (clat, clon) = centres[d];
            let displaced = (sev * 60.0).round() as u64;
            for _ in 0..displaced {
                let (lat, lon) = self.around(clat, clon, 1.0);
                let people = 1 + self.pick(&[30.0, 30.0, 18.0, 15.0, 5.0, 2.0]) as u64;
                let vulnerable = self.rng.chance(0.25);
                // Families are sheltered together; 3 meals per person per day.
                push(
                    &mut self.needs,
                    "n",
                    json!({"community": community, "kind": "shelter",
                    "lat": lat, "lon": lon, "demand": {"beds": people, "meals": 3 * people},
                    "priority": people as f64 * if vulnerable { 2.0 } else { 1.0 },
                    "indivisible": true, "deadline": 12}),
                );
            }
            // Water points: Sphere standard, 15 l per person per day, for those still at home.
            for _ in 0..(sev * 20.0).round() as u64 {
                let (lat, lon) = self.around(clat, clon, 1.5);
                let people = self.rng.int(20, 120);
                push(
                    &mut self.needs,
                    "n",
                    json!({"community": community, "kind": "water",
                    "lat": lat, "lon": lon, "demand": {"water_l": 15 * people},
                    "priority": people as f64 / 20.0, "deadline": 24}),
                );
            }
            for _ in 0..(sev * 12.0).round() as u64 {
                let (lat, lon) = self.around(clat, clon, 1.0);
                let skill = triage[self.pick(&[5.0, 3.0, 1.0, 1.0])];
                push(
                    &mut self.needs,
                    "n",
                    json!({"community": community, "kind": "medical",
                    "lat": lat, "lon": lon, "demand": {"team_h": self.rng.int(1, 4)},
                    "required_skills": [skill], "priority": 10,
                    "deadline": self.rng.int(2, 12)}),
                );
            }
            for _ in 0..(sev * 15.0).round() as u64 {
                let (lat, lon) = self.around(clat, clon, 1.2);
                push(
                    &mut self.needs,
                    "n",
                    json!({"community": community, "kind": "support",
                    "lat": lat, "lon": lon, "demand": {"volunteer_h": self.rng.int(2, 6)},
                    "priority": 1, "earliest": 6, "deadline": 48}),
                );
            }
            // Resources sit where the damage is smaller.
            let spare = 1.0 - (sev / 1.5).min(0.9);
            for _ in 0..(spare * 3.0).round() as u64 {
                let (lat, lon) = self.around(clat, clon, 1.5);
                let beds = 10 * self.rng.int(5, 30);
                push(
                    &mut self.resources,
                    "r",
                    json!({"community": community, "kind": "shelter",
                    "lat": lat, "lon": lon, "capacity": {"beds": beds, "meals": 3 * beds},
                    "available_from": self.rng.int(0, 4)}),
                );
            }
            for _ in 0..(spare * 4.0).round() as u64 {
                let (lat, lon) = self.around(clat, clon, 2.0);
                push(
                    &mut self.resources,
                    "r",
                    json!({"community": community, "kind": "support",
                    "lat": lat, "lon": lon, "capacity": {"volunteer_h": 8 * self.rng.int(1, 4)},
                    "available_from": 6, "available_until": 48}),
                );
            }
        }
        // Regional depots: water trucks (5-12 m3) and hospital medical teams.
        for i in 0..self.count(5.0) {
            let (lat, lon) = self.around(lat0, lon0, 15.0);
            push(
                &mut self.resources,
                "r",
                json!({"community": format!("depot-{:02}", i % 3 + 1),
                "kind": "water", "lat": lat, "lon": lon,
                "capacity": {"water_l": 1000 * self.rng.int(5, 12)}, "cost": 50,
                "available_from": self.rng.int(1, 6)}),
            );
        }
        for i in 0..self.count(6.0) {
            let (lat, lon) = self.around(lat0, lon0, 12.0);
            let a = triage[self.pick(&[5.0, 3.0, 1.0, 1.0])];
            let mut skills = vec!["triage", a];
            skills.dedup();
            push(
                &mut self.resources,
                "r",
                json!({"community": format!("hospital-{:02}", i % 2 + 1),
                "kind": "medical", "lat": lat, "lon": lon, "capacity": {"team_h": 12},
                "skills": skills, "available_from": self.rng.int(0, 2)}),
            );
        }
        json!({"objective": "coverage", "fairness": "maxmin", "group_by": "community",
            "max_distance_km": 40, "speed_kmh": 30, "cost_per_km": 0.5})
    }

    /// The time model over a generated snapshot (SPEC "Allocation over time"), where the
    /// pilots have it. Hours from the scenario's start; a day is 24 h.
    /// - urban: tool loans of 1-5 days over four weeks, 0-7 days of slack, starts on whole
    ///   days; a tool library's items of one kind are one resource (a pool), two hours to check
    ///   a returned tool; `loans` reusable.
    /// - rural: a harvest job holds one combine or baler for 1-3 working days within its
    ///   ripening window, the trip to the next farm as the machine's turnaround (4-8 h),
    ///   starts every 12 h; `machines` reusable, labour hours stay consumable.
    /// - intentional: guest-room stays of 1-4 nights and car trips of 2-10 hours over four
    ///   weeks, each with some slack; `rooms` and `cars` reusable.
    /// - disaster: families stay 1-14 nights from a fixed arrival (bed-nights, `beds`
    ///   reusable, meals consumable for the stay); medical teams work 12-hour shifts and a
    ///   call holds a team 1-4 hours within its deadline (`teams` reusable).
    fn add_time(&mut self, generator: Generator, policy: &mut Value) {
        const DAY: u64 = 24;
        let kind = |v: &Value| v["kind"].as_str().unwrap_or_default().to_string();
        let mut needs = std::mem::take(&mut self.needs);
        let mut resources = std::mem::take(&mut self.resources);
        match generator {
            Generator::Urban => {
                for n in needs.iter_mut().filter(|n| kind(n) == "tool") {
                    let start = DAY * self.rng.int(0, 27);
                    n["duration_h"] = json!(DAY * self.rng.int(1, 5));
                    n["earliest"] = json!(start);
                    n["deadline"] = json!(start + DAY * self.rng.int(0, 7));
                }
                for r in resources.iter_mut().filter(|r| kind(r) == "tool") {
                    r["turnaround_h"] = json!(2);
                }
                policy["reusable"] = json!(["loans"]);
                policy["slot_h"] = json!(DAY);
            }
            Generator::Rural => {
                for n in needs.iter_mut().filter(|n| kind(n) == "harvest") {
                    let hours = n["demand"]["machine_h"].as_f64().unwrap_or(10.0);
                    // About 10 machine hours a working day.
                    let days = (hours / 10.0).ceil().clamp(1.0, 3.0);
                    let earliest = n["earliest"].as_f64().unwrap_or(0.0);
                    let last = n["deadline"].as_f64().unwrap_or(earliest) - days * 24.0;
                    n["demand"] = json!({"machines": 1});
                    n["indivisible"] = json!(true);
                    n["duration_h"] = json!(days * 24.0);
                    n["deadline"] = json!(last.max(earliest));
                }
                for r in resources.iter_mut().filter(|r| kind(r) == "harvest") {
                    r["capacity"] = json!({"machines": 1});
                    r["turnaround_h"] = json!(self.rng.int(4, 8));
                }
                policy["reusable"] = json!(["machines"]);
                policy["slot_h"] = json!(12);
            }
            Generator::Intentional => {
                for n in needs.iter_mut() {
                    match kind(n).as_str() {
                        "guest_room" => {
                            let nights = n["demand"]["nights"].as_u64().unwrap_or(1);
                            let start = DAY * self.rng.int(0, 27);
                            n["demand"] = json!({"rooms": 1});
                            n["duration_h"] = json!(DAY * nights);
                            n["earliest"] = json!(start);
                            n["deadline"] = json!(start + DAY * self.rng.int(0, 3));
                        }
                        "car" => {
                            let hours = n["demand"]["car_h"].as_u64().unwrap_or(2);
                            let start = self.rng.int(0, 27 * DAY);
                            n["demand"] = json!({"cars": 1});
                            n["indivisible"] = json!(true);
                            n["duration_h"] = json!(hours);
                            n["earliest"] = json!(start);
                            n["deadline"] = json!(start + self.rng.int(0, 12));
                        }
                        _ => {}
                    }
                }
                for r in resources.iter_mut() {
                    match kind(r).as_str() {
                        "guest_room" => {
                            r["capacity"] = json!({"rooms": 1});
                            r["turnaround_h"] = json!(4);
                        }
                        "car" => r["capacity"] = json!({"cars": 1}),
                        _ => {}
                    }
                }
                policy["reusable"] = json!(["rooms", "cars"]);
                policy["slot_h"] = json!(1);
            }
            Generator::Disaster => {
                for n in needs.iter_mut() {
                    match kind(n).as_str() {
                        "shelter" => {
                            let nights = self.rng.int(1, 14);
                            // Evening arrival (18:00) on one of the first days.
                            let arrival = DAY * self.rng.int(0, 14 - nights) + 18;
                            let meals = n["demand"]["meals"].as_u64().unwrap_or(3);
                            n["demand"]["meals"] = json!(meals * nights);
                            n["duration_h"] = json!(DAY * nights);
                            n["earliest"] = json!(arrival);
                            n.as_object_mut().map(|m| m.remove("deadline"));
                        }
                        "medical" => {
                            let deadline = n["deadline"].as_u64().unwrap_or(12);
                            n["demand"] = json!({"teams": 1});
                            n["duration_h"] = json!(self.rng.int(1, 4));
                            n["earliest"] = json!(0);
                            n["deadline"] = json!(deadline);
                        }
                        _ => {}
                    }
                }
                for r in resources.iter_mut() {
                    match kind(r).as_str() {
                        "shelter" => {
                            let beds = r["capacity"]["beds"].as_u64().unwrap_or(10);
                            r["capacity"]["meals"] = json!(3 * beds * 14);
                        }
                        "medical" => {
                            // A 12-hour shift from the team's arrival.
                            let from = r["available_from"].as_u64().unwrap_or(0);
                            r["capacity"] = json!({"teams": 1});
                            r["available_until"] = json!(from + 12);
                        }
                        _ => {}
                    }
                }
                // A very small scale can have no shelter: only a held dimension is reusable.
                let held = |k: &str| resources.iter().any(|r| kind(r) == k);
                let reusable: Vec<&str> = [("beds", "shelter"), ("teams", "medical")]
                    .into_iter()
                    .filter(|&(_, k)| held(k))
                    .map(|(d, _)| d)
                    .collect();
                policy["reusable"] = json!(reusable);
                policy["slot_h"] = json!(1);
            }
        }
        self.needs = needs;
        self.resources = resources;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FNV-1a over the scenario's JSON text: a fingerprint stable across Rust releases.
    fn fingerprint(v: &Value) -> u64 {
        v.to_string().bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        })
    }

    #[test]
    fn generator_names_are_the_published_list() {
        let names: Vec<&str> = Generator::ALL.iter().map(|g| g.name()).collect();
        assert_eq!(names, GENERATORS);
        for g in Generator::ALL {
            assert_eq!(g.name().parse::<Generator>().unwrap(), g);
        }
        assert_eq!(
            "moon".parse::<Generator>().unwrap_err().to_string(),
            "unknown generator \"moon\": expected one of urban, rural, intentional, disaster"
        );
        assert_eq!(
            generate("moon", 0.0, 1).unwrap_err().to_string(),
            "unknown generator \"moon\": expected one of urban, rural, intentional, disaster"
        );
        assert_eq!(
            generate("urban", 0.0, 1).unwrap_err().to_string(),
            "scale 0 is not in (0, 200]"
        );
    }

    /// Past a generator's own bound the scale is refused up front, naming the bound, where the
    /// generator used to make a scenario the engine refused ("invalid input" at `disaster
    /// --scale 150`); at the bound the scenario is valid.
    #[test]
    fn scales_past_a_generators_bound_are_refused_naming_it() {
        let e = Generator::Disaster
            .scenario(121.0, 0, Clock::Snapshot)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("scale 121 is not in (0, 120] (the largest disaster scenarios"),
            "{e}"
        );
        let e = Generator::Urban
            .scenario(150.0, 0, Clock::Timed)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("scale 150 is not in (0, 48] (the largest timed urban"),
            "{e}"
        );
        assert!(Generator::Urban.check_scale(150.0, Clock::Snapshot).is_ok());
        let at_bound = Generator::Disaster.max_scale(Clock::Snapshot);
        assert!(Generator::Disaster
            .scenario(at_bound, 0, Clock::Snapshot)
            .is_ok());
    }

    #[test]
    fn each_generator_is_a_function_of_its_seed() {
        for name in GENERATORS {
            let a = generate(name, 1.0, 42).unwrap();
            assert_eq!(a, generate(name, 1.0, 42).unwrap(), "{name}");
            assert_ne!(a, generate(name, 1.0, 43).unwrap(), "{name}");
        }
    }

    /// A large timed scenario takes a longer slot: at scale 30 urban's time model passes the
    /// engine's bound (5,000,000 (link, start) pairs) at a one-day slot, so its slot doubles
    /// until it fits; at scale 1 the slot stays a day.
    #[test]
    fn a_large_timed_scenario_takes_a_longer_slot() {
        let slot = |scale: f64| {
            let s = Generator::Urban
                .scenario(scale, 1, Clock::Timed)
                .expect("valid");
            s.policy().slot_h.unwrap()
        };
        assert_eq!(slot(1.0), 24.0, "a day");
        assert!(slot(30.0) >= 48.0, "{}", slot(30.0));
        let value = Generator::Urban
            .generate_with(30.0, 1, Clock::Timed)
            .unwrap();
        assert_eq!(value["policy"]["slot_h"].as_f64(), Some(slot(30.0)));
        // Past the largest scale (scale 100: its needs times the resources of their kind
        // alone pass the bound at one start each) the scale is refused before generating.
        assert!(matches!(
            Generator::Urban.scenario(100.0, 1, Clock::Timed),
            Err(GenerateError::Scale { .. })
        ));
    }

    #[test]
    fn generated_scenarios_are_the_published_ones() {
        // Simulation tables published from these generators depend on every number drawn.
        let got: Vec<u64> = GENERATORS
            .iter()
            .map(|name| fingerprint(&generate(name, 1.0, 7).unwrap()))
            .collect();
        assert_eq!(got, PINNED);
    }

    const PINNED: [u64; 4] = [
        13101522143283813147,
        7389294670642605436,
        10046984895481580380,
        2081899118570927085,
    ];

    #[test]
    fn batch_scenarios_are_seeded_by_position() {
        let g = Generated {
            name: "urban".into(),
            scale: 1.0,
            count: 3,
            seed: 5,
            clock: Clock::Snapshot,
        };
        assert_eq!(g.label(2), format!("urban-x1-s{}", scenario_seed(5, 2)));
        assert_eq!(
            g.scenario(2).unwrap().into_owned(),
            generate_scenario("urban", 1.0, scenario_seed(5, 2)).unwrap()
        );
    }
}

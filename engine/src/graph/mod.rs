//! The need -> resource graph: explicit links or links built by SPEC's rules, in a compact
//! indexed form, and its split into connected components.
//!
//! Rule-building never compares every pair when coordinates and a radius are given: resources
//! are bucketed by kind, and each bucket's located resources sit in a grid of cubic cells over
//! unit vectors, queried with the chord length of the radius (slightly widened). Every
//! candidate is then checked with the same haversine test as the all-pairs definition, so the
//! result equals [`LinkBuilder::all_pairs`] exactly (a property test checks it).

mod builder;
mod components;
mod geo;
mod grid;
mod network;
mod rules;

pub use builder::LinkBuilder;
pub use components::{components, Component};
pub use geo::{distance, haversine_km, GeoPoint, EARTH_RADIUS_KM};
pub use network::{Edge, Network, Occupation, TimeModel};
pub(crate) use rules::links_alike_by_capacity;
pub use rules::{check_link, excluded_by_time, rule_link, Excluded};

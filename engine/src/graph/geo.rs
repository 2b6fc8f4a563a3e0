//! Geodesy: great-circle distances on SPEC's sphere, and sites with their trigonometry done once.

use crate::model::{Need, Resource};

/// Mean Earth radius (km), as SPEC section 2 fixes it.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in km.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    GeoPoint::new(lat1, lon1).km_to(&GeoPoint::new(lat2, lon2))
}

pub fn distance(r: &Resource, n: &Need) -> Option<f64> {
    Some(GeoPoint::of(r.lat, r.lon)?.km_to(&GeoPoint::of(n.lat, n.lon)?))
}

/// A site with the trigonometry the haversine formula needs of it done once: the sines and
/// cosines of half its latitude and half its longitude, and the cosine of its latitude. The
/// sine of half a difference of angles is then `sin a cos b - cos a sin b`, so a pair costs
/// multiplications, a square root and an arcsine, no sine (the link builder computes this for
/// every candidate pair). Against the formula
/// with the differences taken first, the result differs by rounding only (within 1e-9
/// relative plus some nanometres, bounded by a test); every distance in the engine goes
/// through here, so all paths agree exactly.
#[derive(Debug, Clone, Copy)]
pub struct GeoPoint {
    sin_half_lat: f64,
    cos_half_lat: f64,
    sin_half_lon: f64,
    cos_half_lon: f64,
    cos_lat: f64,
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64) -> GeoPoint {
        let lat = lat.to_radians();
        let (sin_half_lat, cos_half_lat) = (lat / 2.0).sin_cos();
        let (sin_half_lon, cos_half_lon) = (lon.to_radians() / 2.0).sin_cos();
        GeoPoint {
            sin_half_lat,
            cos_half_lat,
            sin_half_lon,
            cos_half_lon,
            cos_lat: lat.cos(),
        }
    }

    pub fn of(lat: Option<f64>, lon: Option<f64>) -> Option<GeoPoint> {
        Some(GeoPoint::new(lat?, lon?))
    }

    /// Great-circle distance in km (haversine, SPEC's Earth radius).
    pub fn km_to(&self, other: &GeoPoint) -> f64 {
        let half_dp =
            other.sin_half_lat * self.cos_half_lat - other.cos_half_lat * self.sin_half_lat;
        let half_dl =
            other.sin_half_lon * self.cos_half_lon - other.cos_half_lon * self.sin_half_lon;
        let h = half_dp * half_dp + self.cos_lat * other.cos_lat * (half_dl * half_dl);
        2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC's formula written out directly, the differences taken first.
    fn naive_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
        let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
        let dp = p2 - p1;
        let dl = (lon2 - lon1).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }

    #[test]
    fn known_arcs_of_the_sphere() {
        let degree = EARTH_RADIUS_KM * std::f64::consts::PI / 180.0;
        assert!((haversine_km(10.0, 20.0, 11.0, 20.0) - degree).abs() < 1e-9 * degree);
        let half = EARTH_RADIUS_KM * std::f64::consts::PI;
        assert!((haversine_km(0.0, 0.0, 0.0, 180.0) - half).abs() < 1e-6);
        assert_eq!(haversine_km(59.3, 18.1, 59.3, 18.1), 0.0);
    }

    #[test]
    fn sites_agree_with_the_formula_to_rounding() {
        let mut x: u64 = 7;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..2000 {
            let (a, b) = (next() * 180.0 - 90.0, next() * 360.0 - 180.0);
            let (c, d) = (a + (next() - 0.5) * 2.0, b + (next() - 0.5) * 2.0);
            let c = c.clamp(-90.0, 90.0);
            let want = naive_km(a, b, c, d);
            let got = GeoPoint::new(a, b).km_to(&GeoPoint::new(c, d));
            assert!((got - want).abs() <= 1e-9 * want + 1e-6, "{a} {b} {c} {d}");
            assert_eq!(got, haversine_km(a, b, c, d));
        }
    }
}

// Coordinates on the map: an equirectangular projection centred on the scenario (x scaled by
// the cosine of the mean latitude, so a kilometre is as long east-west as north-south), which is
// exact enough at the scale of a town or a region and needs no map tiles.

export interface Point {
  lat: number;
  lon: number;
}

export interface Projection {
  /** SVG coordinates of a point (y grows downwards). */
  project(p: Point): [number, number];
  /** Kilometres per SVG unit. */
  kmPerUnit: number;
  width: number;
  height: number;
}

const KM_PER_DEG_LAT = 111.195;

/** A projection fitting `points` into `width` x `height` with `pad` units of margin. */
export function fit(points: readonly Point[], width: number, height: number, pad = 24): Projection | null {
  // Loops, not Math.min(...xs): V8 throws past about 100,000 arguments, and the map draws
  // every entity.
  let [lat0, lat1, lon0, lon1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const p of points) {
    if (!Number.isFinite(p.lat) || !Number.isFinite(p.lon)) continue;
    if (p.lat < lat0) lat0 = p.lat;
    if (p.lat > lat1) lat1 = p.lat;
    if (p.lon < lon0) lon0 = p.lon;
    if (p.lon > lon1) lon1 = p.lon;
  }
  if (!(lat0 <= lat1)) return null;
  const k = Math.cos((((lat0 + lat1) / 2) * Math.PI) / 180);
  // Extent in km, at least 1 km so that one point or a line of points still has a scale.
  const wKm = Math.max((lon1 - lon0) * KM_PER_DEG_LAT * k, 1);
  const hKm = Math.max((lat1 - lat0) * KM_PER_DEG_LAT, 1);
  const unitsPerKm = Math.min((width - 2 * pad) / wKm, (height - 2 * pad) / hKm);
  const cx = (lon0 + lon1) / 2;
  const cy = (lat0 + lat1) / 2;
  return {
    width,
    height,
    kmPerUnit: 1 / unitsPerKm,
    project: (p) => [
      width / 2 + (p.lon - cx) * KM_PER_DEG_LAT * k * unitsPerKm,
      height / 2 - (p.lat - cy) * KM_PER_DEG_LAT * unitsPerKm,
    ],
  };
}

/** A round length (1, 2 or 5 times a power of ten) of at most `maxKm`, for a scale bar. */
export function niceLength(maxKm: number): number {
  if (!(maxKm > 0)) return 0;
  const p = 10 ** Math.floor(Math.log10(maxKm));
  for (const m of [5, 2, 1]) if (m * p <= maxKm) return m * p;
  return p;
}

/** Great-circle distance in km (haversine), as the engine measures links. */
export function haversineKm(a: Point, b: Point): number {
  const r = 6371.0088;
  const toRad = (d: number) => (d * Math.PI) / 180;
  const dLat = toRad(b.lat - a.lat);
  const dLon = toRad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(toRad(a.lat)) * Math.cos(toRad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.min(1, Math.sqrt(h)));
}

import { describe, expect, it } from 'vitest';
import { fit, haversineKm, niceLength, type Point } from './geo';

describe('fit', () => {
  it('keeps distances at town scale within 1% of the great-circle distance', () => {
    // Points around Stockholm, as in the bundled flood scenario.
    const pts: Point[] = [
      { lat: 59.334, lon: 18.063 },
      { lat: 59.296, lon: 18.095 },
      { lat: 59.29, lon: 18.11 },
      { lat: 59.342, lon: 18.05 },
    ];
    const p = fit(pts, 640, 420)!;
    for (const a of pts) {
      for (const b of pts) {
        if (a === b) continue;
        const [x1, y1] = p.project(a);
        const [x2, y2] = p.project(b);
        const km = Math.hypot(x2 - x1, y2 - y1) * p.kmPerUnit;
        expect(Math.abs(km - haversineKm(a, b)) / haversineKm(a, b)).toBeLessThan(0.01);
      }
    }
  });

  it('puts every point inside the frame, north up', () => {
    const pts = [
      { lat: 10, lon: 20 },
      { lat: 10.5, lon: 20.2 },
    ];
    const p = fit(pts, 300, 200, 10)!;
    for (const q of pts) {
      const [x, y] = p.project(q);
      expect(x).toBeGreaterThanOrEqual(10 - 1e-9);
      expect(x).toBeLessThanOrEqual(290 + 1e-9);
      expect(y).toBeGreaterThanOrEqual(10 - 1e-9);
      expect(y).toBeLessThanOrEqual(190 + 1e-9);
    }
    expect(p.project(pts[1]!)[1]).toBeLessThan(p.project(pts[0]!)[1]);
  });

  it('has no projection without coordinates', () => {
    expect(fit([{ lat: NaN, lon: 1 }], 100, 100)).toBeNull();
  });
});

describe('niceLength', () => {
  it('is 1, 2 or 5 times a power of ten, at most the room and more than a third of it', () => {
    for (const room of [0.03, 0.7, 1, 3.3, 9.99, 17, 480, 12345]) {
      const n = niceLength(room);
      expect(n).toBeLessThanOrEqual(room);
      expect(n).toBeGreaterThan(room / 5 - 1e-12);
      const m = n / 10 ** Math.floor(Math.log10(n) + 1e-9);
      expect([1, 2, 5].some((k) => Math.abs(m - k) < 1e-9)).toBe(true);
    }
  });
});

describe('fit over many points', () => {
  it('fits 300,000 points (Math.min(...xs) throws a RangeError past about 100,000)', () => {
    const pts: Point[] = Array.from({ length: 300_000 }, (_, i) => ({ lat: 59 + (i % 1000) / 10_000, lon: 18 + Math.floor(i / 1000) / 10_000 }));
    pts.push({ lat: NaN, lon: 18.5 });
    const proj = fit(pts, 800, 600);
    if (!proj) throw new Error('no projection');
    // The corners of the extent land inside the padded box, its centre in the middle.
    for (const corner of [{ lat: 59, lon: 18 }, { lat: 59.0999, lon: 18.0299 }]) {
      const [x, y] = proj.project(corner);
      expect(x).toBeGreaterThanOrEqual(24 - 1e-9);
      expect(x).toBeLessThanOrEqual(776 + 1e-9);
      expect(y).toBeGreaterThanOrEqual(24 - 1e-9);
      expect(y).toBeLessThanOrEqual(576 + 1e-9);
    }
    const [cx, cy] = proj.project({ lat: 59.04995, lon: 18.01495 });
    expect(cx).toBeCloseTo(400, 6);
    expect(cy).toBeCloseTo(300, 6);
    expect(fit([{ lat: NaN, lon: 1 }], 800, 600)).toBeNull();
  });
});

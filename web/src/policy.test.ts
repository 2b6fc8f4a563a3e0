import { describe, expect, it } from 'vitest';
import { applyForm, formOf, objectivesFor, OBJECTIVES, policyObject } from './policy';
import { rankShadowPrices, shadowSentenceKey } from './explain';
import { describeDetail, errorFromBody, tableOfFile, type Row } from './api';
import { coordinate, coverage, eventId, orderNeeds, proposedFor, withoutLinks } from './session';

describe('policy form', () => {
  it('reads a policy and writes it back unchanged, fields it does not show included', () => {
    const policy = {
      objective: 'cost', fairness: { min_share: 0.3 }, max_distance_km: 15, speed_kmh: 30,
      cost_per_km: 0.5, cross_community: false, group_by: 'community', time_limit_s: 5,
    };
    const f = formOf(policy);
    expect(f).toMatchObject({ objective: 'cost', fairness: 'min_share', minShare: 0.3, radiusKm: 15, crossCommunity: false });
    expect(applyForm(policy, f)).toEqual(policy);
  });

  it('uses SPEC defaults for an empty policy and leaves out empty limits', () => {
    const f = formOf(undefined);
    expect(f).toMatchObject({ objective: 'coverage', fairness: 'none', solver: 'auto', radiusKm: null, crossCommunity: true });
    expect(applyForm({ max_distance_km: 9 }, { ...f, fairness: 'leximin', solver: 'greedy' })).toEqual({
      objective: 'coverage', fairness: 'leximin', solver: 'greedy', cross_community: true,
    });
  });
});

describe('a policy that is not an object', () => {
  it('is refused, not spread into {"0": ...} and solved under another policy', () => {
    const f = formOf(undefined);
    for (const bad of ['maxmin', ['maxmin'], 3, true]) {
      expect(() => policyObject(bad)).toThrow('policy must be an object');
      expect(() => applyForm(bad as unknown as Record<string, unknown>, f)).toThrow('policy must be an object');
    }
    expect(policyObject(null)).toBeUndefined();
    expect(applyForm(null as unknown as undefined, f)).toEqual(applyForm(undefined, f));
  });
});

describe('a policy value the form cannot show', () => {
  it('is refused naming its field, not read as the form\'s default', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ fairness: 'maxmn' }, 'policy.fairness: "maxmn" is not one the policy takes (none, maxmin, leximin, {"min_share": s} with s in [0, 1])'],
      [{ fairness: { min_share: 1.5 } }, 'policy.fairness: {"min_share":1.5}'],
      [{ fairness: { min_share: 0.3, x: 1 } }, 'policy.fairness:'],
      [{ fairness: 'min_share' }, 'policy.fairness:'],
      [{ objective: 'fastest' }, 'policy.objective: "fastest" is not one the policy takes (coverage, cost, weighted, proportional, deprivation)'],
      [{ solver: 'mip' }, 'policy.solver: "mip"'],
      [{ max_distance_km: '30' }, 'policy.max_distance_km: "30" is not one the policy takes (a number >= 0)'],
      [{ cost_per_km: -1 }, 'policy.cost_per_km: -1'],
      [{ cross_community: 'no' }, 'policy.cross_community: "no"'],
    ];
    for (const [policy, said] of cases) expect(() => policyObject(policy), JSON.stringify(policy)).toThrow(said);
    // What the form shows, as SPEC writes it, passes; so do fields it leaves to the server.
    for (const ok of [
      { fairness: { min_share: 0.99 }, objective: 'deprivation', solver: 'greedy', max_distance_km: null },
      { fairness: 'leximin', speed_kmh: 40, cross_community: false, group_by: 'kind', future_field: 1 },
      // Python's None: the field left out, as the server reads it.
      { objective: null, solver: null, fairness: null, cross_community: null, speed_kmh: null },
    ]) expect(policyObject(ok)).toEqual(ok);
  });
});

describe('shadow prices', () => {
  it('ranks every positive price of every dimension, largest first', () => {
    const resources: Row[] = [
      { id: 'hall', used_beds: 60, shadow_price_beds: 0.7, shadow_price_meals: 0 },
      { id: 'van', shadow_price_water_l: 0.002, shadow_price_beds: null },
      { id: 'school', shadow_price_beds: 1.5 },
    ];
    expect(rankShadowPrices(resources)).toEqual([
      { resource: 'school', dim: 'beds', value: 1.5 },
      { resource: 'hall', dim: 'beds', value: 0.7 },
      { resource: 'van', dim: 'water_l', value: 0.002 },
    ]);
    expect(rankShadowPrices(resources, 1)).toHaveLength(1);
    expect(shadowSentenceKey('coverage')).toBe('planner.shadowLine');
    expect(shadowSentenceKey('cost')).toBe('planner.shadowCost');
    expect(shadowSentenceKey('proportional')).toBe('planner.shadowObjective');
  });
});

describe('api helpers', () => {
  it('names the table of a file', () => {
    expect(tableOfFile('needs.csv')).toBe('needs');
    expect(tableOfFile('flood-resources.parquet')).toBe('resources');
    expect(tableOfFile('LINKS.arrow')).toBe('links');
    expect(tableOfFile('needs.json')).toBeNull();
    expect(tableOfFile('people.csv')).toBeNull();
  });

  it('reads the service error body and its details', () => {
    const e = errorFromBody(422, {
      error: { code: 'invalid_input', message: '1 problem', details: [{ table: 'needs', row: 3, field: 'demand', message: 'must be positive' }] },
    });
    expect([e.status, e.code, e.message]).toEqual([422, 'invalid_input', '1 problem']);
    expect(describeDetail(e.details[0])).toBe('needs, row 3, field demand: must be positive');
    expect(errorFromBody(502, 'gateway').code).toBe('unknown');
  });
});

describe('session lists', () => {
  it('orders needs by priority, then earliest, then id', () => {
    const needs = [
      { id: 'n10', priority: 1 }, { id: 'n2', priority: 1 }, { id: 'late', priority: 3, earliest: 5 },
      { id: 'early', priority: 3, earliest: 1 },
    ];
    expect(orderNeeds(needs).map((n) => n.id)).toEqual(['early', 'late', 'n2', 'n10']);
    // A need dispatched in full (nothing open) goes after those still open.
    expect(orderNeeds(needs, { early: 0, n2: 0.5 }).map((n) => n.id)).toEqual(['late', 'n2', 'n10', 'early']);
  });

  it('lists a need’s proposed matches, largest share first', () => {
    const allocations = [
      { need: 'a', resource: 'r1', share: 0.25 }, { need: 'b', resource: 'r1', share: 1 }, { need: 'a', resource: 'r2', share: 0.75 },
    ];
    expect(proposedFor(allocations, 'a')).toEqual([{ resource: 'r2', share: 0.75 }, { resource: 'r1', share: 0.25 }]);
  });

  it('drops explicit links for a session', () => {
    const s = { name: 'x', needs: [], resources: [], links: [{}] };
    expect(withoutLinks(s)).toEqual({ name: 'x', needs: [], resources: [] });
    expect(s.links).toHaveLength(1);
  });
});

describe('session state', () => {
  it('covers a need by its dispatched part plus the proposed shares of its open part', () => {
    const state = {
      seq: 3,
      plan: {
        summary: {} as never,
        allocations: [
          { need: 'a', resource: 'r1', share: 0.5 },
          { need: 'a', resource: 'r2', share: 0.5 },
          { need: 'b', resource: 'r1', share: 0.25 },
        ],
        dispatched: [],
      },
      needs: [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }],
      open: { a: 0.4, b: 1, c: 0, d: 1 },
      resources: [],
    };
    const c = coverage(state);
    expect(c.get('a')).toBeCloseTo(1, 12);
    expect(c.get('b')).toBeCloseTo(0.25, 12);
    expect(c.get('c')).toBeCloseTo(1, 12);
    expect(c.get('d')).toBe(0);
  });

  it('has no position for a missing coordinate', () => {
    expect(coordinate(null)).toBeNaN();
    expect(coordinate(undefined)).toBeNaN();
    expect(coordinate(0)).toBe(0);
    expect(coordinate(59.3)).toBe(59.3);
  });

  it('makes distinct version-4 UUIDs without crypto.randomUUID', () => {
    const ids = new Set(Array.from({ length: 500 }, eventId));
    expect(ids.size).toBe(500);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('the deprivation objective', () => {
  const breakpoints = [[0, 0], [0.5, 1], [1, 4]];

  it('is offered only when the policy gives its breakpoints (or already asks for it)', () => {
    expect(objectivesFor(undefined)).not.toContain('deprivation');
    expect(objectivesFor({ objective: 'coverage' })).not.toContain('deprivation');
    expect(objectivesFor({ deprivation: [] })).not.toContain('deprivation');
    expect(objectivesFor({ deprivation: [[0, 0], [1, 'x']] })).not.toContain('deprivation');
    expect(objectivesFor({ deprivation: breakpoints })).toEqual(OBJECTIVES);
    expect(objectivesFor({ objective: 'deprivation' })).toContain('deprivation');
    expect(objectivesFor({ deprivation: breakpoints })).toContain('coverage');
  });

  it('keeps the policy’s breakpoints when the form picks it', () => {
    const policy = { objective: 'coverage', deprivation: breakpoints };
    const f = { ...formOf(policy), objective: 'deprivation' as const };
    expect(applyForm(policy, f)).toMatchObject({ objective: 'deprivation', deprivation: breakpoints });
  });
});

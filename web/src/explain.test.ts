import { describe, expect, it } from 'vitest';
import { evidenceOf, firstMatching, hasEvidence, infeasibilityLines, shadowNoneKey } from './explain';
import { translate } from './i18n';
import type { Infeasibility } from './api';

// A `fairness` row of the flood scenario, as `POST /v1/solve` with `"explain": true` answers it.
const fairness = {
  need: 'wound-checks',
  coverage: 0.75,
  reason: 'fairness',
  explanation: 'capacity it could use serves needs of other groups (B) worth no more per unit than it, and the plan without fairness is worth 3.000 instead of 2.500: fairness gave that capacity to other groups; its group A has ratio 0.750 (every group\'s ratio is listed, with one plan without fairness)',
  marginal_value: 0,
  linked_resources: [
    {
      resource: 'medic-team-a',
      capacity_left: { volunteer_h: 0 },
      shadow_price: { volunteer_h: 0.25 },
      serves_instead: [
        { need: 'insulin-round', share: 1, priority: 4 },
        { need: 'first-aid-post', share: 1 / 3, priority: 2 },
      ],
    },
    { resource: 'medic-team-b', capacity_left: { volunteer_h: 2 }, shadow_price: { volunteer_h: 0 }, serves_instead: [] },
  ],
  groups: [
    { group: 'north', ratio: 0.97, ratio_without_fairness: 0.94 },
    { group: 'south', ratio: 0.97, ratio_without_fairness: 1 },
  ],
};

describe('the evidence of a why row', () => {
  it('lists the linked resources, what each serves instead, and the group ratios', () => {
    const e = evidenceOf(fairness);
    expect(hasEvidence(e)).toBe(true);
    expect(e.linked).toEqual([
      {
        resource: 'medic-team-a',
        left: [['volunteer_h', 0]],
        shadow: [['volunteer_h', 0.25]],
        servesInstead: [{ need: 'insulin-round', share: 1 }, { need: 'first-aid-post', share: 1 / 3 }],
        servesLeft: 0,
      },
      { resource: 'medic-team-b', left: [['volunteer_h', 2]], shadow: [], servesInstead: [], servesLeft: 0 },
    ]);
    expect(e.groups).toEqual([
      { group: 'north', ratio: 0.97, without: 0.94 },
      { group: 'south', ratio: 0.97, without: 1 },
    ]);
    expect(e.candidates).toEqual([]);
  });

  it('lists the excluded candidates of a no_candidate row', () => {
    const e = evidenceOf({
      reason: 'no_candidate',
      candidates: [
        { resource: 'truck', distance_km: 186.2, excluded_by: 'max_distance_km', explanation: '186.2 km is beyond 30 km' },
        { resource: 'boat', distance_km: null, excluded_by: 'kind', explanation: 'kind boat does not serve water' },
      ],
    });
    expect(e.candidates).toEqual([
      { resource: 'truck', distanceKm: 186.2, explanation: '186.2 km is beyond 30 km' },
      { resource: 'boat', distanceKm: null, explanation: 'kind boat does not serve water' },
    ]);
  });

  it('cuts long lists and counts the rest; has nothing for a row without lists', () => {
    const many = {
      linked_resources: Array.from({ length: 12 }, (_, i) => ({
        resource: `r${i}`,
        capacity_left: {},
        shadow_price: {},
        serves_instead: Array.from({ length: 11 }, (_, j) => ({ need: `n${j}`, share: 1, priority: 1 })),
      })),
    };
    const e = evidenceOf(many, 8);
    expect(e.linked).toHaveLength(8);
    expect(e.linkedLeft).toBe(4);
    expect(e.linked[0]?.servesInstead).toHaveLength(8);
    expect(e.linked[0]?.servesLeft).toBe(3);
    expect(hasEvidence(evidenceOf({ reason: 'time_limit', explanation: 'x' }))).toBe(false);
    expect(hasEvidence(evidenceOf({ linked_resources: 'garbage', groups: [null, 3] }))).toBe(false);
  });
});

describe('a long list of explanations', () => {
  const rows = Array.from({ length: 4146 }, (_, i) => ({ need: `n${i}`, reason: i % 2 ? 'capacity' : 'no_candidate' }));
  const text = (r: { need: string; reason: string }) => `${r.need} ${r.reason}`;

  it('shows the first 300 and counts them all', () => {
    const { shown, matching } = firstMatching(rows, '', text, 300);
    expect(shown).toHaveLength(300);
    expect(shown[0]?.need).toBe('n0');
    expect(matching).toBe(4146);
  });

  it('filters by every word, case-insensitively', () => {
    expect(firstMatching(rows, 'N4145', text, 300)).toEqual({ shown: [rows[4145]], matching: 1 });
    const cap = firstMatching(rows, 'capacity n41', text, 300);
    expect(cap.matching).toBe(rows.filter((r) => r.reason === 'capacity' && r.need.includes('n41')).length);
    expect(cap.shown.every((r) => r.reason === 'capacity')).toBe(true);
  });
});

describe('an infeasible plan in words', () => {
  // What `POST /v1/solve` answers for two needs of 8 l, each with min_fill 1, and one tank of
  // 10 l (the reviewer's infeasible.json).
  const infeasibility: Infeasibility = {
    message: 'min_fill cannot be met for need(s) n2',
    needs: ['n2'],
    groups: [],
    conflict: [
      { kind: 'min_fill', id: 'n1' },
      { kind: 'min_fill', id: 'n2' },
      { kind: 'capacity', id: 'r1', dim: 'water_l' },
    ],
  };
  const words = (inf: Infeasibility) => {
    const { intro, lines } = infeasibilityLines(inf);
    return [translate('en', intro), ...lines.map((l) => translate('en', l.key, l.params))];
  };

  it('names every member of the conflict set: needs\' min_fill, groups\' min_share, capacities, windows', () => {
    expect(words(infeasibility)).toEqual([
      'These constraints cannot all hold; relaxing any one of the min_fill or min_share among them lets the rest hold:',
      'need n1: its min_fill (the part of it that must be served)',
      'need n2: its min_fill (the part of it that must be served)',
      'resource r1: its capacity of water_l',
    ]);
    const more: Infeasibility = { ...infeasibility, conflict: [{ kind: 'min_share' as const, id: 'north' }, { kind: 'window' as const, id: 'n3' }] };
    expect(words(more).slice(1)).toEqual([
      'group north: its min_share (the part of its priority that must be served)',
      'need n3: its time window (the starts it can take)',
    ]);
    expect(infeasibilityLines(more).lines.map((l) => [l.kind, l.id])).toEqual([['min_share', 'north'], ['window', 'n3']]);
  });

  it('lists each further part\'s conflict on its own', () => {
    const two: Infeasibility = { ...infeasibility, more_conflicts: [[{ kind: 'min_fill', id: 'n9' }, { kind: 'capacity', id: 'r9', dim: 'seats' }], []] };
    const { lines, more } = infeasibilityLines(two);
    expect(lines.map((l) => l.id)).toEqual(['n1', 'n2', 'r1']);
    expect(more.map((c) => c.map((l) => translate('en', l.key, l.params)))).toEqual([
      ['need n9: its min_fill (the part of it that must be served)', 'resource r9: its capacity of seats'],
    ]);
    expect(infeasibilityLines(infeasibility).more).toEqual([]);
    const many: Infeasibility = { ...infeasibility, more_conflicts: Array.from({ length: 8 }, (_, i) => [{ kind: 'min_fill' as const, id: `u${i}` }]) };
    const shown = infeasibilityLines(many);
    expect(shown.more.map((c) => c[0]?.id)).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
    expect(shown.moreLeft).toBe(3);
  });

  it('lists the needs and groups named when no conflict set was worked out (a greedy plan)', () => {
    const greedy: Infeasibility = { message: 'the greedy plan leaves 1 need(s) below their min_fill', needs: ['n2'], groups: ['west'], conflict: [] };
    expect(words(greedy)).toEqual([
      'The needs and groups whose hard constraints cannot all hold:',
      'need n2: its min_fill (the part of it that must be served)',
      'group west: its min_share (the part of its priority that must be served)',
    ]);
  });

  it('does not say "no extra capacity would serve more" of a plan without shadow prices', () => {
    expect(shadowNoneKey({ status: 'infeasible', duals: 'lp' })).toBe('planner.shadowInfeasible');
    expect(shadowNoneKey({ status: 'infeasible', duals: 'none' })).toBe('planner.shadowInfeasible');
    expect(shadowNoneKey({ status: 'feasible', duals: 'none' })).toBe('planner.shadowNoDuals');
    expect(shadowNoneKey({ status: 'optimal', duals: 'lp' })).toBe('planner.shadowNone');
    // Indivisible choices held fixed: a zero price does not say more capacity is useless.
    expect(shadowNoneKey({ status: 'optimal', duals: 'fixed_mip' })).toBe('planner.shadowNoneFixedMip');
  });
});

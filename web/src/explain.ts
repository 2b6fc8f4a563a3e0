// What a plan tells a planner beyond its tables: the shadow prices ranked, as sentences.

import type { Conflict, Infeasibility, Row, Summary } from './api';
import type { Key } from './i18n';

export interface ShadowPrice {
  resource: string;
  dim: string;
  value: number;
}

/** Every positive shadow price of the resources table (`shadow_price_<dim>` columns), largest
 * first, at most `limit`. */
export function rankShadowPrices(resources: readonly Row[], limit = 10): ShadowPrice[] {
  const out: ShadowPrice[] = [];
  for (const r of resources) {
    for (const [col, v] of Object.entries(r)) {
      if (!col.startsWith('shadow_price_') || typeof v !== 'number') continue;
      if (!(Math.abs(v) > 1e-9)) continue;
      out.push({ resource: String(r.id), dim: col.slice('shadow_price_'.length), value: Math.abs(v) });
    }
  }
  out.sort((a, b) => b.value - a.value || a.resource.localeCompare(b.resource) || a.dim.localeCompare(b.dim));
  return out.slice(0, limit);
}

/** The catalogue key of the sentence for a shadow price under `objective`. */
export function shadowSentenceKey(objective: string): Key {
  switch (objective) {
    case 'coverage':
      return 'planner.shadowLine';
    case 'cost':
      return 'planner.shadowCost';
    default:
      return 'planner.shadowObjective';
  }
}

/** The words for an empty list of shadow prices: an infeasible plan and a plan without duals
 * (greedy) have none to give, which is not "no extra capacity would serve more"; nor is a
 * plan with indivisible choices (`fixed_mip`: prices of the LP with those choices held), where
 * one more unit may let another indivisible need in. */
export function shadowNoneKey(summary: Pick<Summary, 'status' | 'duals'>): Key {
  if (summary.status === 'infeasible') return 'planner.shadowInfeasible';
  if (summary.duals === 'none') return 'planner.shadowNoDuals';
  if (summary.duals === 'fixed_mip') return 'planner.shadowNoneFixedMip';
  return 'planner.shadowNone';
}

/** One line of an infeasibility in words: the catalogue key and its parameters. */
export interface ConflictLine {
  key: Key;
  params: Record<string, string>;
  kind: string;
  id: string;
}

const CONFLICT_KEYS: Record<Conflict['kind'], Key> = {
  min_fill: 'infeasible.minFill',
  min_share: 'infeasible.minShare',
  capacity: 'infeasible.capacity',
  window: 'infeasible.window',
};

/** Further conflicts listed one by one (a scenario of many needs without links has as many). */
export const MORE_CONFLICTS_SHOWN = 5;

/** An infeasibility's constraints as lines: its conflict set (which needs' `min_fill`, which
 * groups' `min_share`, which resources' capacity in which dimension, which needs' windows),
 * or, when the set was not worked out, the needs and groups it names; and the catalogue key
 * of the sentence that introduces them. */
export function infeasibilityLines(inf: Infeasibility): {
  intro: Key;
  lines: ConflictLine[];
  /** The conflicts of the scenario's other parts without a plan, each on its own: the
   * first `MORE_CONFLICTS_SHOWN`, and how many are left. */
  more: ConflictLine[][];
  moreLeft: number;
} {
  const conflict = Array.isArray(inf.conflict) ? inf.conflict : [];
  const members = (c: Conflict[]): ConflictLine[] =>
    c.map((m) => ({
      key: CONFLICT_KEYS[m.kind] ?? 'infeasible.other',
      params: { id: String(m.id), dim: String(m.dim ?? '–'), kind: String(m.kind) },
      kind: String(m.kind),
      id: String(m.id),
    }));
  if (conflict.length > 0) {
    const more = (Array.isArray(inf.more_conflicts) ? inf.more_conflicts : []).filter(
      (c) => Array.isArray(c) && c.length > 0,
    );
    return {
      intro: 'infeasible.conflict',
      lines: members(conflict),
      more: more.slice(0, MORE_CONFLICTS_SHOWN).map(members),
      moreLeft: Math.max(0, more.length - MORE_CONFLICTS_SHOWN),
    };
  }
  const line = (kind: 'min_fill' | 'min_share', id: string): ConflictLine => ({
    key: CONFLICT_KEYS[kind],
    params: { id, dim: '–', kind },
    kind,
    id,
  });
  return {
    intro: 'infeasible.members',
    lines: [
      ...(Array.isArray(inf.needs) ? inf.needs : []).map((id) => line('min_fill', String(id))),
      ...(Array.isArray(inf.groups) ? inf.groups : []).map((id) => line('min_share', String(id))),
    ],
    more: [],
    moreLeft: 0,
  };
}

/** What a why row lists beside its words (SPEC section 2, "Explanations"), read defensively (a
 * session's `why` answer is untyped here), each list cut to a screenful with the count left. */
export interface Evidence {
  /** `no_candidate`, `time`: the nearest resources excluded, and the rule's words for each. */
  candidates: { resource: string; distanceKm: number | null; explanation: string }[];
  candidatesLeft: number;
  /** `capacity`, `fairness`, `objective`: each linked resource, what it has left, what one more
   * unit adds (shadow price), and what it serves instead. */
  linked: {
    resource: string;
    left: [string, number][];
    shadow: [string, number][];
    servesInstead: { need: string; share: number }[];
    servesLeft: number;
  }[];
  linkedLeft: number;
  /** `fairness`: each group's ratio, and its ratio in the plan without fairness. */
  groups: { group: string; ratio: number; without: number }[];
  groupsLeft: number;
}

const list = (x: unknown): Record<string, unknown>[] =>
  Array.isArray(x) ? x.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null) : [];
const finiteOr = (x: unknown, or: number): number => (typeof x === 'number' && Number.isFinite(x) ? x : or);
const amounts = (x: unknown): [string, number][] =>
  typeof x === 'object' && x !== null
    ? Object.entries(x as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1]))
    : [];

/** The lists of a why row; at most `limit` of each (and of what each resource serves instead). */
export function evidenceOf(why: object, limit = 8): Evidence {
  const w = why as Record<string, unknown>;
  const candidates = list(w.candidates);
  const linked = list(w.linked_resources);
  const groups = list(w.groups);
  return {
    candidates: candidates.slice(0, limit).map((c) => ({
      resource: String(c.resource ?? ''),
      distanceKm: typeof c.distance_km === 'number' && Number.isFinite(c.distance_km) ? c.distance_km : null,
      explanation: typeof c.explanation === 'string' ? c.explanation : String(c.excluded_by ?? ''),
    })),
    candidatesLeft: Math.max(0, candidates.length - limit),
    linked: linked.slice(0, limit).map((l) => {
      const serves = list(l.serves_instead);
      return {
        resource: String(l.resource ?? ''),
        left: amounts(l.capacity_left),
        shadow: amounts(l.shadow_price).filter(([, v]) => Math.abs(v) > 1e-9),
        servesInstead: serves.slice(0, limit).map((s) => ({ need: String(s.need ?? ''), share: finiteOr(s.share, 0) })),
        servesLeft: Math.max(0, serves.length - limit),
      };
    }),
    linkedLeft: Math.max(0, linked.length - limit),
    groups: groups.slice(0, limit).map((g) => ({
      group: String(g.group ?? ''),
      ratio: finiteOr(g.ratio, 0),
      without: finiteOr(g.ratio_without_fairness, 0),
    })),
    groupsLeft: Math.max(0, groups.length - limit),
  };
}

/** Whether a why row lists anything beside its words. */
export function hasEvidence(e: Evidence): boolean {
  return e.candidates.length + e.linked.length + e.groups.length > 0;
}

/** At most `limit` items of `items` whose text has every word of `query` (case-insensitive),
 * and how many more match: a long list (thousands of explanations) stays a page long. */
export function firstMatching<T>(
  items: readonly T[],
  query: string,
  text: (item: T) => string,
  limit: number,
): { shown: T[]; matching: number } {
  const words = query.toLowerCase().split(/\s+/).filter((w) => w.length > 0);
  const hits = words.length === 0 ? items : items.filter((x) => {
    const s = text(x).toLowerCase();
    return words.every((w) => s.includes(w));
  });
  return { shown: hits.slice(0, limit), matching: hits.length };
}

// What a plan tells a planner beyond its tables: the shadow prices ranked, as sentences.

import type { Row } from './api';
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

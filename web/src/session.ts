// The coordinator's view of a live session: what `GET /v1/sessions/{id}/state` answers, put in
// the order a coordinator works in.

import type { Entity, Plan, Row, Scenario } from './api';

/** `GET /v1/sessions/{id}/state`: the plan and the entities of one read of the session. */
export interface SessionState {
  seq: number;
  plan: Plan;
  needs: Entity[];
  /** Each need's part not yet dispatched; the plan's shares are of this part. */
  open: Record<string, number>;
  resources: Entity[];
}

/** Needs by priority (highest first), then the earliest start they can take (oldest first),
 * then id. */
export function orderNeeds(needs: readonly Entity[]): Entity[] {
  const earliest = (n: Entity) => (typeof n.earliest === 'number' ? n.earliest : 0);
  return [...needs].sort(
    (a, b) =>
      (b.priority ?? 1) - (a.priority ?? 1) ||
      earliest(a) - earliest(b) ||
      a.id.localeCompare(b.id, undefined, { numeric: true }),
  );
}

/** The proposed matches of one need (resource and share of its open part), largest first. */
export function proposedFor(allocations: readonly Row[], need: string): { resource: string; share: number }[] {
  return allocations
    .filter((a) => a.need === need)
    .map((a) => ({ resource: String(a.resource), share: Number(a.share) }))
    .sort((x, y) => y.share - x.share || x.resource.localeCompare(y.resource));
}

/** How much of each need is covered: its dispatched part plus the proposed shares of its open
 * part. */
export function coverage(state: SessionState): Map<string, number> {
  const planned = new Map<string, number>();
  for (const a of state.plan.allocations) {
    const need = String(a.need);
    planned.set(need, (planned.get(need) ?? 0) + Number(a.share));
  }
  const out = new Map<string, number>();
  for (const n of state.needs) {
    const open = state.open[n.id] ?? 1;
    out.set(n.id, 1 - open + open * (planned.get(n.id) ?? 0));
  }
  return out;
}

/** A coordinate for the map: `null` (no position) is not a place, so it is NaN, never 0. */
export function coordinate(x: unknown): number {
  return typeof x === 'number' && Number.isFinite(x) ? x : NaN;
}

/** A scenario for a new session: sessions build their links by the policy's rules, so any
 * explicit `links` are left out. */
export function withoutLinks(s: Scenario): Scenario {
  const copy: Scenario = { ...s };
  delete copy.links;
  return copy;
}

/** A fresh event id for idempotent retries: a random UUID, from `crypto.getRandomValues`,
 * which (unlike `crypto.randomUUID`) also exists on pages served over plain HTTP on a local
 * network. */
export function eventId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

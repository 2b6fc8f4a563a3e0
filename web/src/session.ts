// The coordinator's view of a live session: what `GET /v1/sessions/{id}/state` answers, put in
// the order a coordinator works in.

import { ApiError, type BookingConflict, type Dispatch, type Entity, type Plan, type Row, type Scenario, type SessionEvent } from './api';

/** `GET /v1/sessions/{id}/state`: the plan and the entities of one read of the session. */
export interface SessionState {
  seq: number;
  plan: Plan;
  needs: Entity[];
  /** Each need's part not yet dispatched; the plan's shares are of this part. */
  open: Record<string, number>;
  resources: Entity[];
  /** The session clock (hours): the latest `at` of its events; absent before the first. */
  clock?: number;
  /** The confirmed bookings in conflict now (a resource came back late, or its capacity was
   * lowered below what is booked), each with what the
   * re-plan proposes once they are released; absent when there are none. */
  conflicts?: BookingConflict[];
}

/** A booking's hours in the session's time: its start, and its end unless it has none (a need
 * without a duration occupies its resource from its start on). */
export interface Hours {
  start: number;
  end?: number;
}

const finite = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

/** The hours of an allocation row, a dispatch or a proposal (`start_h`, `end_h`): null when it
 * has no start (a snapshot session). */
export function hoursOf(x: { start_h?: unknown; end_h?: unknown }): Hours | null {
  const start = finite(x.start_h);
  if (start === undefined) return null;
  const end = finite(x.end_h);
  return end === undefined ? { start } : { start, end };
}

/** Hours in words: `12–17 h`, or `from 12 h` without an end. `say` is the catalogue's
 * translation, `fmt` the number format of the page's language. */
export function hoursText(
  h: Hours,
  say: (key: 'coord.hours' | 'coord.from', params: Record<string, string>) => string,
  fmt: (x: number) => string,
): string {
  return h.end === undefined
    ? say('coord.from', { start: fmt(h.start) })
    : say('coord.hours', { start: fmt(h.start), end: fmt(h.end) });
}

/** The clock input as the `at` the page sends: its hours, or none when it is empty. */
export function clockToSend(input: number | null | undefined): number | undefined {
  return finite(input);
}

/** Whether the clock input holds something that is not an hour: a number past a double's
 * range (`1e400` reads as Infinity) or text the browser could not read as a number
 * (`badInput`; its value then reads as empty). Sent as it stands, such a change would carry no
 * clock at all, as if the field were empty, without a word. */
export function clockUnreadable(input: number | null | undefined, badInput: boolean): boolean {
  return badInput || (input !== null && input !== undefined && finite(input) === undefined);
}

/** Whether a loan starting at `start` has started by the hour a return would carry (`sendAt`,
 * else the session's `clock`): only such a loan can come back (the server refuses the rest).
 * Without any clock every loan has. */
export function loanStarted(start: number | undefined, sendAt: number | undefined, clock: number | undefined): boolean {
  const now = sendAt === undefined ? clock : clock === undefined ? sendAt : Math.max(sendAt, clock);
  return start !== undefined && (now === undefined || start <= now);
}

/** The clock input after a read of the session: the session's clock when the input is empty
 * or behind it, so the page never sends a time before the clock by accident (the server would
 * refuse the batch); a time ahead of the clock stays as typed. */
export function raiseClock(input: number | null | undefined, clock: number | undefined): number | null {
  const typed = finite(input);
  const now = finite(clock);
  if (now === undefined) return typed ?? null;
  return typed === undefined || typed < now ? now : typed;
}

/** The loan a return of `resource` ends, as the server picks it (SPEC: in a timed session a
 * return ends one loan): its active booking with the earliest start that has started by the
 * hour the return carries (`sendAt`, else the session's `clock`), the first made among equal
 * starts. The page names it in the event, so the return (and a resend of it) ends that loan
 * and no other. Undefined when no timed loan of it has started (the server then says so). */
export function loanToReturn(
  dispatched: readonly Dispatch[],
  resource: string,
  sendAt: number | undefined,
  clock: number | undefined,
): string | undefined {
  let best: Dispatch | undefined;
  for (const d of dispatched) {
    if (!d.active || d.resource !== resource || d.start_h === undefined) continue;
    if (!loanStarted(d.start_h, sendAt, clock)) continue;
    if (best === undefined || d.start_h < (best.start_h ?? Infinity)) best = d;
  }
  return best?.need;
}

/** Whether the outcome of a request that failed this way is unknown: no answer came (the
 * connection failed, perhaps after the server applied it) or a server-side failure (5xx,
 * e.g. a proxy's 502 after the server applied it). A 4xx is a refusal: nothing was applied. */
export function outcomeUnknown(e: unknown): boolean {
  return e instanceof ApiError && (e.status === 0 || e.status >= 500);
}

/** Whether a session request failed because the session is not on the server (deleted in
 * another tab or by another client): a 404, other than a `why` route's "need not found". */
export function sessionGone(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404 && !/^need\b/.test(e.message);
}

/** Waits before each automatic resend of a batch whose outcome is unknown (ms): three
 * resends within about four seconds. */
export const RESEND_WAITS: readonly number[] = [300, 1000, 2500];

/** `post()` (one POST of a batch already stamped with its event ids), posted again while its
 * outcome is unknown, after each of `waits`: the server applies an event id at most once, so a
 * resend of a batch that was applied changes nothing. `onResend(n)` is told before the n-th
 * resend. Throws the last error: a refusal at once, an unknown outcome after the last resend. */
export async function postIdempotent<T>(
  post: () => Promise<T>,
  waits: readonly number[] = RESEND_WAITS,
  onResend: (n: number) => void = () => {},
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await post();
    } catch (e) {
      const wait = waits[n];
      if (!outcomeUnknown(e) || wait === undefined) throw e;
      await sleep(wait);
      onResend(n + 1);
    }
  }
}

/** An event in a few words for the screen: its type and what it names
 * (`need_added n1`, `dispatched truck → n2`). */
export function eventWords(ev: SessionEvent): string {
  switch (ev.type) {
    case 'need_added':
    case 'need_updated':
      return `${ev.type} ${ev.need.id}`;
    case 'resource_added':
    case 'resource_updated':
      return `${ev.type} ${ev.resource.id}`;
    case 'need_withdrawn':
    case 'resource_withdrawn':
      return `${ev.type} ${ev.id}`;
    case 'resource_returned':
      return ev.need === undefined ? `${ev.type} ${ev.id}` : `${ev.type} ${ev.id} (${ev.need})`;
    case 'dispatched':
    case 'dispatch_released':
      return `${ev.type} ${ev.resource} → ${ev.need}`;
  }
}

/** The page's events as sent: each with a fresh event id, and at the clock input's hour when
 * it has one. A batch is stamped once: every resend of it carries the same ids (and `at`), so
 * the server applies it at most once. */
export function stamp(events: readonly SessionEvent[], at: number | undefined, id: () => string = eventId): SessionEvent[] {
  return events.map((ev) => (at === undefined ? { ...ev, event_id: id() } : { ...ev, event_id: id(), at }));
}

/** The dispatches the coordinator sees: the active ones first, then those that came back
 * (a timed booking shows when). A snapshot session's returns stay listed too: a need served
 * by a team that is back showed "0% open" with nothing saying who had served it. */
export function shownDispatches(dispatched: readonly Dispatch[]): Dispatch[] {
  return [...dispatched.filter((d) => d.active), ...dispatched.filter((d) => !d.active)];
}

/** Needs still open first (`open`: each need's open part; a need dispatched in full needs no
 * action and went on heading the list), then by priority (highest first), then the earliest
 * start they can take (oldest first), then id. */
export function orderNeeds(needs: readonly Entity[], open: Readonly<Record<string, number>> = {}): Entity[] {
  const earliest = (n: Entity) => (typeof n.earliest === 'number' ? n.earliest : 0);
  const done = (n: Entity) => ((open[n.id] ?? 1) > 0 ? 0 : 1);
  return [...needs].sort(
    (a, b) =>
      done(a) - done(b) ||
      (b.priority ?? 1) - (a.priority ?? 1) ||
      earliest(a) - earliest(b) ||
      a.id.localeCompare(b.id, undefined, { numeric: true }),
  );
}

/** The proposed matches of one need (resource and share of its open part, and the hours of a
 * timed need), largest first. */
export function proposedFor(
  allocations: readonly Row[],
  need: string,
): { resource: string; share: number; hours?: Hours }[] {
  return allocations
    .filter((a) => a.need === need)
    .map((a) => {
      const m = { resource: String(a.resource), share: Number(a.share) };
      const hours = hoursOf(a);
      return hours ? { ...m, hours } : m;
    })
    .sort((x, y) => y.share - x.share || x.resource.localeCompare(y.resource));
}

/** How much of each need is covered: its dispatched part plus the proposed shares of its open
 * part. A booking in conflict (its resource came back late, so it cannot hold as booked) covers
 * nothing until it is released and the need planned again. */
export function coverage(state: SessionState): Map<string, number> {
  const planned = new Map<string, number>();
  for (const a of state.plan.allocations) {
    const need = String(a.need);
    planned.set(need, (planned.get(need) ?? 0) + Number(a.share));
  }
  const conflicted = new Map<string, number>();
  for (const c of state.conflicts ?? []) {
    const b = c.booking;
    const f = Number(b.fraction);
    if (Number.isFinite(f)) conflicted.set(b.need, (conflicted.get(b.need) ?? 0) + f);
  }
  const out = new Map<string, number>();
  for (const n of state.needs) {
    const open = state.open[n.id] ?? 1;
    const held = Math.max(0, 1 - open - (conflicted.get(n.id) ?? 0));
    out.set(n.id, Math.min(1, held + open * (planned.get(n.id) ?? 0)));
  }
  return out;
}

/** A need counts as served in full from this coverage on where the engine's own verdict is not
 * at hand (the coordinator's coverage adds dispatched and planned parts): the widest band the
 * engine counts with (`SERVED_BAND` in engine/src/explain.rs; a need's own band is the shortfall
 * the solver's holds allow it, often narrower). A plan's share falls short of whole within its
 * band, and at 1e-6 the map drew a need 5e-5 short, served in full in the summary, as a ring. */
export const SERVED = 1 - 1e-4;

/** The whole session's coverage, dispatched and planned parts together (the plan's own summary
 * covers only the open parts): the priority served over the total priority, and how many needs
 * are served in full and in part. No needs: a ratio of 1 (nothing asked is left unserved), as the
 * engine's `coverage_ratio`. */
export function overallCoverage(
  needs: readonly Entity[],
  covered: ReadonlyMap<string, number>,
): { ratio: number; served: number; partly: number } {
  let total = 0;
  let value = 0;
  let served = 0;
  let partly = 0;
  for (const n of needs) {
    const p = typeof n.priority === 'number' && Number.isFinite(n.priority) ? n.priority : 1;
    const c = Math.min(1, Math.max(0, covered.get(n.id) ?? 0));
    total += p;
    value += p * c;
    if (c >= SERVED) served += 1;
    else if (c > 1e-9) partly += 1;
  }
  return { ratio: total > 0 ? value / total : 1, served, partly };
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

/** What a new need or team of a session is most likely to be: the kind most of its resources
 * (else needs) have, a dimension of that kind, and the middle of the entities with a place.
 * The add forms start from these (they started in Stockholm, with kind `water`: a need added
 * with just an id to a session elsewhere landed out of every team's reach). `null` for an
 * empty session. */
export function entryDefaults(
  state: Pick<SessionState, 'needs' | 'resources'>,
): { kind: string; dim: string; lat: number; lon: number } | null {
  const all = [...state.resources, ...state.needs];
  const kinded = state.resources.some((r) => r.kind) ? state.resources : state.needs;
  const counts = new Map<string, number>();
  for (const e of kinded) if (e.kind) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
  // The most common kind; of equals, the first met.
  let kind: string | undefined;
  for (const [k, c] of counts) if (kind === undefined || c > (counts.get(kind) ?? 0)) kind = k;
  const placed = all.filter((e) => typeof e.lat === 'number' && typeof e.lon === 'number');
  if (kind === undefined || placed.length === 0) return null;
  const ofKind = all.filter((e) => e.kind === kind);
  const dim = ofKind.map((e) => Object.keys(e.capacity ?? e.demand ?? {})[0]).find((d) => d !== undefined);
  if (dim === undefined) return null;
  // Rounded to 6 decimals (about 0.1 m): a sum of floats reads 18.064999999999998 in the form.
  const mean = (f: (e: Entity) => number) =>
    Math.round((placed.reduce((s, e) => s + f(e), 0) / placed.length) * 1e6) / 1e6;
  return { kind, dim, lat: mean((e) => e.lat as number), lon: mean((e) => e.lon as number) };
}

/** The fields the coordinator's forms edit: an entity's kind, position, priority (a need's)
 * and the amount of one dimension. */
export interface EntryFields {
  kind: string;
  dim: string;
  amount: number;
  lat: number;
  lon: number;
  priority?: number;
}

/** `base` (the entity as last read, which another coordinator may have changed since the form
 * was filled) with what the form changed since it was filled (`shown`, the form as filled;
 * `now`, as sent): only the fields that differ are written, every other field of the entity
 * (its window, min_fill, skills, community, its other dimensions, another client's change of
 * a field the form did not change) is kept, so an update never drops what the form does not
 * show. A dimension named in the form that the entity has is set, the others kept; one it has
 * not replaces the one the form was filled from (a renamed dimension). `field` is where the
 * amounts live: `demand` of a need, `capacity` of a team. */
export function edited(
  base: Entity,
  shown: EntryFields,
  now: EntryFields,
  field: 'demand' | 'capacity',
): Entity {
  const out: Entity = { ...base };
  if (now.kind !== shown.kind) out.kind = now.kind;
  // A position is written whole: the engine refuses a lat without its lon (the form shows
  // 0/0 for an entity without one).
  if (now.lat !== shown.lat || now.lon !== shown.lon) {
    out.lat = now.lat;
    out.lon = now.lon;
  }
  if (now.priority !== undefined && now.priority !== shown.priority) out.priority = now.priority;
  if (now.dim !== shown.dim || now.amount !== shown.amount) {
    const amounts = { ...(base[field] ?? {}) };
    if (now.dim !== shown.dim && !Object.hasOwn(amounts, now.dim)) delete amounts[shown.dim];
    amounts[now.dim] = now.amount;
    out[field] = amounts;
  }
  return out;
}

/** The amounts of `x`'s `field` but those of `dims`, as a form says them (`meals 100, kits 2`):
 * what an edit of one dimension keeps. */
export function otherAmounts(x: Entity | undefined, field: 'demand' | 'capacity', dims: readonly string[]): string {
  return Object.entries(x?.[field] ?? {})
    .filter(([d]) => !dims.includes(d))
    .map(([d, a]) => `${d} ${a}`)
    .join(', ');
}

/** The id an add form offers after `id` was added: its trailing number one up, as wide as it
 * was (`n7` -> `n8`, `flood-09` -> `flood-10`), the next one not `taken`; empty when `id` ends
 * in no number (the form kept the id it had just added, which a second add was refused for). */
export function nextId(id: string, taken: (id: string) => boolean): string {
  const m = /^(.*?)(\d+)$/.exec(id);
  const [stem, digits] = [m?.[1] ?? '', m?.[2]];
  if (digits === undefined) return '';
  let n = BigInt(digits);
  // Bounded: a session holds at most a few thousand of one stem.
  for (let tries = 0; tries < 10_000; tries += 1) {
    n += 1n;
    const next = `${stem}${n.toString().padStart(digits.length, '0')}`;
    if (!taken(next)) return next;
  }
  return '';
}

/** One change between two reads of a session, in the words a screen reader is told: a need or
 * team added, withdrawn or changed, a team sent out or back. `key` matches `changeKeys` of the
 * page's own events (those are said as applied, not as another client's). */
export interface Change {
  what: 'needAdded' | 'needWithdrawn' | 'needChanged' | 'teamAdded' | 'teamWithdrawn' | 'teamChanged' | 'dispatched' | 'back';
  id: string;
  key: string;
}

/** What changed from `before` to `after` (reads of one session), needs first, then teams, then
 * dispatches, each in the order the later read lists them. */
export function changesBetween(before: SessionState, after: SessionState): Change[] {
  const out: Change[] = [];
  const entities = (xs: readonly Entity[], was: readonly Entity[], kind: 'need' | 'team') => {
    const old = new Map(was.map((x) => [x.id, JSON.stringify(x)]));
    const now = new Set(xs.map((x) => x.id));
    for (const x of xs) {
      const o = old.get(x.id);
      if (o === undefined) out.push({ what: `${kind}Added`, id: x.id, key: `${kind}+${x.id}` });
      else if (o !== JSON.stringify(x)) out.push({ what: `${kind}Changed`, id: x.id, key: `${kind}~${x.id}` });
    }
    for (const x of was) if (!now.has(x.id)) out.push({ what: `${kind}Withdrawn`, id: x.id, key: `${kind}-${x.id}` });
  };
  entities(after.needs, before.needs, 'need');
  entities(after.resources, before.resources, 'team');
  // A need's dispatches end with it: not said again as teams back.
  const needs = new Set(after.needs.map((n) => n.id));
  const active = (s: SessionState) => s.plan.dispatched.filter((d) => d.active && needs.has(d.need));
  const was = new Map(active(before).map((d) => [`${d.resource} → ${d.need}`, d.resource]));
  const now = new Map(active(after).map((d) => [`${d.resource} → ${d.need}`, d.resource]));
  for (const d of now.keys()) if (!was.has(d)) out.push({ what: 'dispatched', id: d, key: `out ${d}` });
  for (const [d, r] of was) if (!now.has(d)) out.push({ what: 'back', id: d, key: `back ${r}` });
  return out;
}

/** The changes of `all` that are not the page's own (`own`: the keys of its events on their
 * way), the keys they match used up: a key stands for every change it names (a team back ends
 * each of its loans), so it goes only after all of them are matched. */
export function othersChanges(all: readonly Change[], own: Set<string>): Change[] {
  const theirs = all.filter((c) => !own.has(c.key));
  for (const c of all) own.delete(c.key);
  return theirs;
}

/** The keys (`Change.key`) of what the page's own events change: its own changes are said once,
 * as applied. A team's return (or a release) is keyed by the team: it may end several loans. */
export function changeKeys(ev: SessionEvent): string[] {
  switch (ev.type) {
    case 'need_added':
      return [`need+${ev.need.id}`];
    case 'need_updated':
      return [`need~${ev.need.id}`];
    case 'need_withdrawn':
      return [`need-${ev.id}`];
    case 'resource_added':
      return [`team+${ev.resource.id}`];
    case 'resource_updated':
      return [`team~${ev.resource.id}`];
    case 'resource_withdrawn':
      return [`team-${ev.id}`];
    case 'resource_returned':
      return [`back ${ev.id}`];
    case 'dispatched':
      return [`out ${ev.resource} → ${ev.need}`];
    case 'dispatch_released':
      return [`back ${ev.resource}`];
  }
}

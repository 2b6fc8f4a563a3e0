import { stringifyExact } from './json';
import type { SessionState } from './session';

// The service's HTTP API as the console uses it: typed answers, typed errors. The bearer token
// goes in the Authorization header only, never in a URL.

export type Status = 'optimal' | 'feasible' | 'infeasible' | 'time_limit' | 'error';
export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export type Reason =
  | 'served'
  | 'no_candidate'
  | 'capacity'
  | 'fairness'
  | 'time'
  | 'min_fill'
  | 'infeasible'
  | 'objective'
  | 'time_limit';

export interface Summary {
  name: string | null;
  status: Status;
  objective: number | null;
  objective_kind: string;
  coverage_value: number;
  cost: number;
  coverage_ratio: number;
  groups: Record<string, number>;
  min_group_ratio: number;
  gini: number;
  jain_index: number;
  atkinson_0_5: number;
  price_of_fairness: number | null;
  needs_served: number;
  needs_partly_served: number;
  mean_access_time_h: number | null;
  solver: string;
  solve_ms: number;
  duals: string;
  /** Why there is no plan (status `infeasible`): absent or null otherwise. */
  infeasibility?: Infeasibility | null;
}

/** An infeasible scenario's diagnosis (SPEC section 2, "Explanations"). */
export interface Infeasibility {
  message: string;
  /** The needs whose `min_fill` cannot all hold, and the groups whose `min_share`. */
  needs: string[];
  groups: string[];
  /** An irreducible set of conflicting constraints; empty when it was not worked out (a
   * greedy plan, the time limit, too many candidates). */
  conflict: Conflict[];
  /** The irreducible sets of the scenario's other parts without a plan, one per part;
   * absent when there is none. */
  more_conflicts?: Conflict[][];
}

/** One member of an infeasibility's conflict: a need's `min_fill` or time `window`, a
 * group's `min_share`, or a resource's capacity in dimension `dim`. */
export interface Conflict {
  kind: 'min_fill' | 'min_share' | 'capacity' | 'window';
  id: string;
  dim?: string;
}

/** A row of a result table: the fixed columns and the per-dimension ones (`amt_beds`, ...). */
export type Row = Record<string, string | number | null>;

export interface Why {
  need: string;
  coverage: number;
  reason: Reason;
  explanation: string;
  marginal_value: number | null;
  /** `no_candidate` and `time`: the nearest excluded resources and the rule excluding each. */
  candidates?: WhyCandidate[];
  /** `capacity`, `fairness`, `objective`: the linked resources and what they serve instead. */
  linked_resources?: LinkedResource[];
  /** `fairness`: every group's ratio in this plan and in the plan without fairness. */
  groups?: GroupRatio[];
}

export interface WhyCandidate {
  resource: string;
  distance_km: number | null;
  excluded_by: string;
  explanation: string;
}

export interface LinkedResource {
  resource: string;
  capacity_left: Record<string, number>;
  shadow_price: Record<string, number>;
  serves_instead: { need: string; share: number; priority: number }[];
}

export interface GroupRatio {
  group: string;
  ratio: number;
  ratio_without_fairness: number;
}

export interface SolveResponse {
  summary: Summary;
  allocations: Row[];
  needs: Row[];
  resources: Row[];
  why?: Why[];
}

export interface Dispatch {
  need: string;
  resource: string;
  /** Part of the need this dispatch serves. */
  fraction: number;
  amounts: Record<string, number>;
  /** False once the resource was returned. */
  active: boolean;
  /** A timed need's booking: its start and end (start + duration), in session hours. */
  start_h?: number;
  end_h?: number;
  /** The session clock when the resource came back. */
  returned_h?: number;
}

/** A match the re-plan would make for a need whose booking is in conflict. */
export interface Proposal {
  resource: string;
  /** Share of the need's part that would be open. */
  share: number;
  start_h?: number;
}

/** A confirmed booking over its resource's capacity (the resource came back late, or its
 * capacity was lowered below what is booked), with what
 * the re-plan proposes once it is released. */
export interface BookingConflict {
  booking: Dispatch;
  proposal: Proposal[];
  /** Why the need would go unserved, when the proposal serves none of it. */
  unserved_why?: string;
}

/** A booking past its end and not returned (sessions with a clock). */
export interface Overdue {
  need: string;
  resource: string;
  end_h: number;
  late_h: number;
}

export interface Plan {
  summary: Summary;
  allocations: Row[];
  dispatched: Dispatch[];
  /** Absent from servers older than the field. */
  overdue?: Overdue[];
  /** Why some needs have no plan (status `error`): what the failed re-plan said. */
  failure?: string;
}

export interface ChangeSet {
  seq: number;
  changed: unknown[];
  dispatched: Dispatch[];
  applied: number;
  duplicates: string[];
  replanned_needs: number;
  /** Bookings this batch left over capacity; absent when none. */
  conflicts?: BookingConflict[];
  /** The re-plan outlasted the server's budget: its changes follow on the stream. */
  replanning?: boolean;
}

export interface SessionListed {
  id: string;
  name: string | null;
  created_ms: number;
  seq: number;
}

export interface JobInfo {
  id: string;
  status: JobStatus;
  /** `errors`: runs done whose row is an error. */
  progress: { done: number; total: number; errors: number };
  created_ms: number;
  elapsed_ms: number | null;
  error: string | null;
}

export interface RunRow {
  run: number;
  scenario: string;
  policy: string;
  replicate: number;
  status: Status;
  coverage_ratio: number | null;
  cost: number | null;
  min_group_ratio: number | null;
  gini: number | null;
  mean_access_time_h: number | null;
  solve_ms: number | null;
  [column: string]: string | number | null;
}

/** An error answer of the service (`{"error": {"code", "message", "details"}}`), or a failure
 * to reach it (`status` 0, code `network`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Turn a non-2xx answer's body into an [`ApiError`]. */
export function errorFromBody(status: number, body: unknown): ApiError {
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const e = (body as { error: { code?: unknown; message?: unknown; details?: unknown } }).error;
    return new ApiError(
      status,
      typeof e.code === 'string' ? e.code : 'unknown',
      typeof e.message === 'string' ? e.message : `HTTP ${status}`,
      Array.isArray(e.details) ? e.details : [],
    );
  }
  return new ApiError(status, 'unknown', `HTTP ${status}`);
}

/** A detail of a 422 in one line: `needs row 3, field demand: must be positive`. */
export function describeDetail(d: unknown): string {
  if (typeof d !== 'object' || d === null) return String(d);
  const o = d as Record<string, unknown>;
  const where = [
    o.table !== undefined ? String(o.table) : null,
    o.row !== undefined && o.row !== null ? `row ${String(o.row)}` : null,
    o.field !== undefined && o.field !== null ? `field ${String(o.field)}` : null,
  ].filter((x) => x !== null);
  const msg = typeof o.message === 'string' ? o.message : JSON.stringify(o);
  return where.length > 0 ? `${where.join(', ')}: ${msg}` : msg;
}

/** The header of a read answered from the service worker's copy (`offline.ts`'s
 * `SAVED_AT_HEADER`; the page does not load the worker's module, and a unit test holds the two
 * equal): when the copy was read from the server. */
export const SAVED_AT_HEADER = 'X-CommonsNet-Saved-At';

/** The service worker's cache (`offline.ts`'s `CACHE_NAME`, held equal by a unit test). */
export const OFFLINE_CACHE = 'commonsnet-console-v1';

/** The mark of a forgotten session (`offline.ts`'s `forgottenKey`, held equal by a unit test). */
export function forgottenKey(origin: string, id: string): string {
  return `${origin}/commonsnet-forgotten/${encodeURIComponent(id)}`;
}

/** Marks of forgotten sessions kept, the newest: one outlives any read on its way. */
export const MAX_FORGOTTEN = 100;

/** As much of the Cache API as forgetting uses (`offline.ts`'s `ReadCache`). */
export interface ForgetCache {
  put(key: string, resp: Response): Promise<void>;
  delete(key: string | Request): Promise<boolean>;
  keys(): Promise<ReadonlyArray<Request>>;
}

/** Drop the copies of session `id`'s state (under any token) from `cache`, after a mark that
 * the service worker looks for once it has kept a read: a read on its way now is not kept
 * after (`offline.ts`'s `keepRead`). */
export async function forgetIn(cache: ForgetCache, origin: string, id: string): Promise<void> {
  try {
    await cache.put(forgottenKey(origin, id), new Response(null, { status: 204 }));
  } catch {
    // A full storage takes no mark: the copies still go (a read on its way may then be kept
    // after them, as when there were no marks).
  }
  const path = `/v1/sessions/${encodeURIComponent(id)}/state`;
  const marks = [];
  for (const k of await cache.keys()) {
    const u = new URL(k.url);
    if (u.pathname === path) await cache.delete(k);
    else if (u.pathname.startsWith('/commonsnet-forgotten/')) marks.push(k);
  }
  for (const old of marks.slice(0, Math.max(0, marks.length - MAX_FORGOTTEN))) await cache.delete(old);
}

/** Drop the service worker's copies of session `id`'s state (under any token), once the
 * session is deleted: a page reloaded offline must not show it as last read. Nothing where
 * the browser keeps no caches (plain HTTP on a LAN). */
export async function forgetCopies(id: string): Promise<void> {
  if (typeof caches === 'undefined') return;
  try {
    await forgetIn(await caches.open(OFFLINE_CACHE), location.origin, id);
  } catch {
    // Storage out of reach: the worker drops the copy at the next read's 404.
  }
}

/** A read's answer; `savedAt` is when it was read from the server when it is the service
 * worker's copy (the server out of reach: `sw.ts`), `null` when the server answered now. */
export interface Read<T> {
  value: T;
  savedAt: string | null;
}

export class Api {
  constructor(
    private readonly token: () => string,
    private readonly base = '',
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...extra };
    const token = this.token();
    if (token) h.Authorization = `Bearer ${token}`;
    return h;
  }

  async raw(method: string, path: string, init: RequestInit = {}): Promise<Response> {
    let resp: Response;
    try {
      resp = await fetch(this.base + path, {
        ...init,
        method,
        headers: this.headers((init.headers as Record<string, string>) ?? {}),
      });
    } catch (e) {
      throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
    }
    if (!resp.ok) {
      let body: unknown = null;
      try {
        body = await resp.json();
      } catch {
        body = null;
      }
      throw errorFromBody(resp.status, body);
    }
    return resp;
  }

  /** A JSON request; `text` writes the body (`stringifyExact` for one with u64 BigInts). */
  async json<T>(method: string, path: string, body?: unknown, text: (v: unknown) => string = JSON.stringify): Promise<T> {
    const init: RequestInit =
      body === undefined
        ? {}
        : { body: text(body), headers: { 'Content-Type': 'application/json' } };
    const resp = await this.raw(method, path, init);
    if (resp.status === 204) return undefined as T;
    return (await resp.json()) as T;
  }

  solve(scenario: unknown): Promise<SolveResponse> {
    return this.json('POST', '/v1/solve', scenario);
  }

  /** Solve scenario tables (CSV, Parquet or Arrow files) sent as a multipart form. */
  async solveTables(tables: Map<string, File>, policy: unknown, explain: boolean): Promise<SolveResponse> {
    const resp = await this.raw('POST', '/v1/solve', { body: tablesForm(tables, policy, explain) });
    return (await resp.json()) as SolveResponse;
  }

  /** The allocations of a scenario as a Parquet file. */
  async solveParquet(body: BodyInit, json: boolean): Promise<Blob> {
    const headers: Record<string, string> = { Accept: 'application/vnd.apache.parquet' };
    if (json) headers['Content-Type'] = 'application/json';
    const resp = await this.raw('POST', '/v1/solve', { body, headers });
    return resp.blob();
  }

  /** A pilot generator's scenario; `seed` is a u64, sent as its exact digits. */
  generate(name: string, seed: bigint, scale: number, timed: boolean): Promise<Scenario> {
    const q = new URLSearchParams({ seed: String(seed), scale: String(scale), timed: String(timed) });
    return this.json('GET', `/v1/generators/${encodeURIComponent(name)}?${q.toString()}`);
  }

  /** A GET whose answer may be the service worker's copy ([`Read`]). */
  async read<T>(path: string): Promise<Read<T>> {
    const resp = await this.raw('GET', path);
    return { value: (await resp.json()) as T, savedAt: resp.headers.get(SAVED_AT_HEADER) };
  }

  sessions(): Promise<Read<{ sessions: SessionListed[] }>> {
    return this.read('/v1/sessions');
  }

  /** With `key` (its `Idempotency-Key`), a retry of the same scenario is answered with the
   * session the first one made. */
  async createSession(scenario: Scenario, key?: string): Promise<{ id: string; needs: number; resources: number }> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (key) headers['Idempotency-Key'] = key;
    const resp = await this.raw('POST', '/v1/sessions', { body: JSON.stringify({ scenario }), headers });
    return (await resp.json()) as { id: string; needs: number; resources: number };
  }

  async deleteSession(id: string): Promise<void> {
    await this.json('DELETE', `/v1/sessions/${encodeURIComponent(id)}`);
    await forgetCopies(id);
  }

  plan(id: string): Promise<Plan> {
    return this.json('GET', `/v1/sessions/${encodeURIComponent(id)}/plan`);
  }

  /** The plan and the needs and resources it is over, from one read of the session. */
  state(id: string): Promise<Read<SessionState>> {
    return this.read(`/v1/sessions/${encodeURIComponent(id)}/state`);
  }

  events(id: string, events: SessionEvent[]): Promise<ChangeSet> {
    return this.json('POST', `/v1/sessions/${encodeURIComponent(id)}/events`, { events });
  }

  why(id: string, need: string): Promise<Record<string, unknown>> {
    return this.json(
      'GET',
      `/v1/sessions/${encodeURIComponent(id)}/needs/${encodeURIComponent(need)}/why`,
    );
  }

  /** A job; its `seed` may be a BigInt (a u64 past 2^53), written into the body exactly. With
   * `key` (its `Idempotency-Key`), a retry of the same request is answered with the job the
   * first one stored instead of a second job. */
  async submitJob(request: unknown, key?: string): Promise<{ id: string }> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (key) headers['Idempotency-Key'] = key;
    const resp = await this.raw('POST', '/v1/jobs', { body: stringifyExact(request), headers });
    return (await resp.json()) as { id: string };
  }

  /** Delete a finished job with its runs and result (`?purge=true`). */
  purgeJob(id: string): Promise<void> {
    return this.json('DELETE', `/v1/jobs/${encodeURIComponent(id)}?purge=true`);
  }

  job(id: string): Promise<JobInfo> {
    return this.json('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  jobs(): Promise<JobInfo[]> {
    return this.json('GET', '/v1/jobs');
  }

  cancelJob(id: string): Promise<JobInfo> {
    return this.json('DELETE', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  /** A job's run table as the server wrote it (its JSON text, byte for byte): a run's `seed`
   * is a u64, which a JS number would round. */
  async jobResultText(id: string): Promise<string> {
    const resp = await this.raw('GET', `/v1/jobs/${encodeURIComponent(id)}/result`, {
      headers: { Accept: 'application/json' },
    });
    return resp.text();
  }

  async jobParquet(id: string): Promise<Blob> {
    const resp = await this.raw('GET', `/v1/jobs/${encodeURIComponent(id)}/result`, {
      headers: { Accept: 'application/vnd.apache.parquet' },
    });
    return resp.blob();
  }
}

/** A scenario as SPEC section 3 writes it (only what the console reads is typed). */
export interface Scenario {
  name?: string;
  resources: Entity[];
  needs: Entity[];
  links?: unknown[];
  policy?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface Entity {
  id: string;
  kind?: string;
  community?: string;
  lat?: number | null;
  lon?: number | null;
  priority?: number;
  capacity?: Record<string, number>;
  demand?: Record<string, number>;
  duration_h?: number;
  [field: string]: unknown;
}

/** An event of a live session. `at` is the session clock in hours (never decreasing: an
 * earlier one is refused with 409); `dispatch_released` undoes a dispatch. */
export type SessionEvent =
  | { type: 'need_added' | 'need_updated'; need: Entity; event_id?: string; at?: number }
  | { type: 'resource_added' | 'resource_updated'; resource: Entity; event_id?: string; at?: number }
  | { type: 'need_withdrawn' | 'resource_withdrawn'; id: string; event_id?: string; at?: number }
  // `need`: the loan that came back (else the resource's earliest started one).
  | { type: 'resource_returned'; id: string; need?: string; event_id?: string; at?: number }
  | { type: 'dispatched' | 'dispatch_released'; need: string; resource: string; event_id?: string; at?: number };

/** The multipart form of `POST /v1/solve` for table files: each file goes in the part its name
 * says (`needs.csv` -> `needs`), the policy as JSON. */
export function tablesForm(tables: Map<string, File>, policy: unknown, explain: boolean): FormData {
  const form = new FormData();
  for (const [part, file] of tables) form.append(part, file, file.name);
  form.append('policy', JSON.stringify(policy ?? {}));
  form.append('explain', String(explain));
  return form;
}

/** Which table a file holds, from its name (`needs.parquet`, `my-resources.csv`), or null. */
export function tableOfFile(name: string): 'resources' | 'needs' | 'links' | null {
  const base = name.toLowerCase().replace(/\.(csv|parquet|arrow|arrows|feather|ipc)$/, '');
  if (base === name.toLowerCase()) return null;
  for (const t of ['resources', 'needs', 'links'] as const) {
    if (base === t || base.endsWith(`-${t}`) || base.endsWith(`_${t}`)) return t;
  }
  return null;
}

// The policy form of the planner: what it edits, read from and written into a scenario's
// `policy` (SPEC section 2), leaving every field it does not show as it was.
import { TextError } from './i18n';

export const OBJECTIVES = ['coverage', 'cost', 'weighted', 'proportional', 'deprivation'] as const;
export const FAIRNESS = ['none', 'maxmin', 'leximin', 'min_share'] as const;
export const SOLVERS = ['auto', 'lp', 'greedy'] as const;
export const GENERATORS = ['urban', 'rural', 'intentional', 'disaster'] as const;

export type Objective = (typeof OBJECTIVES)[number];
export type FairnessKind = (typeof FAIRNESS)[number];
export type SolverChoice = (typeof SOLVERS)[number];
export type GeneratorName = (typeof GENERATORS)[number];

export interface PolicyForm {
  objective: Objective;
  fairness: FairnessKind;
  minShare: number;
  solver: SolverChoice;
  /** Empty means "no limit" (the field is left out). */
  radiusKm: number | null;
  speedKmh: number | null;
  costPerKm: number | null;
  crossCommunity: boolean;
}

function pick<T extends string>(all: readonly T[], v: unknown, fallback: T): T {
  return all.find((x) => x === v) ?? fallback;
}

function numberOr(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The form's values for a scenario's policy (SPEC's defaults where it is silent). */
export function formOf(policy: Record<string, unknown> | undefined): PolicyForm {
  const p = policy ?? {};
  const f = p.fairness;
  let fairness: FairnessKind = 'none';
  let minShare = 0.5;
  if (typeof f === 'object' && f !== null && 'min_share' in f) {
    fairness = 'min_share';
    minShare = numberOr((f as { min_share: unknown }).min_share) ?? 0.5;
  } else {
    fairness = pick(FAIRNESS, f, 'none');
  }
  return {
    objective: pick(OBJECTIVES, p.objective, 'coverage'),
    fairness,
    minShare,
    solver: pick(SOLVERS, p.solver, 'auto'),
    radiusKm: numberOr(p.max_distance_km),
    speedKmh: numberOr(p.speed_kmh),
    costPerKm: numberOr(p.cost_per_km),
    crossCommunity: p.cross_community !== false,
  };
}

/** Whether `policy` gives the deprivation cost's breakpoints (`deprivation: [[u, c], ...]`,
 * SPEC section 2), without which the `deprivation` objective is refused. */
export function hasDeprivationCost(policy: Record<string, unknown> | undefined): boolean {
  const d = policy?.deprivation;
  return (
    Array.isArray(d) &&
    d.length >= 2 &&
    d.every((b) => Array.isArray(b) && b.length === 2 && b.every((x) => typeof x === 'number' && Number.isFinite(x)))
  );
}

/** The objectives the form offers for a scenario's policy: `deprivation` only when the policy
 * gives its breakpoints (the form has no field for them and keeps the policy's), or already
 * asks for it (so the server's answer says what is missing). */
export function objectivesFor(policy: Record<string, unknown> | undefined): readonly Objective[] {
  if (hasDeprivationCost(policy) || policy?.objective === 'deprivation') return OBJECTIVES;
  return OBJECTIVES.filter((o) => o !== 'deprivation');
}

/** A scenario's `policy` (or a `policy.json`) as the form reads it: an object, or undefined
 * when there is none (absent or null: the defaults). A string, a number or a list is refused
 * (spread into an object it would become `{"0": ...}` and solve under another policy). */
export function policyObject(policy: unknown): Record<string, unknown> | undefined {
  if (policy === undefined || policy === null) return undefined;
  if (typeof policy !== 'object' || Array.isArray(policy)) throw new TextError('file.policyNotObject');
  const p = policy as Record<string, unknown>;
  checkFormFields(p);
  return p;
}

/** Refuses a value of a field the form shows that the form cannot show (`"fairness":
 * "maxmn"`): read as the form's default it was solved under another policy without a word,
 * where the server refuses it. The server checks the rest. */
function checkFormFields(p: Record<string, unknown>) {
  const refuse = (field: string, expected: string) => {
    throw new TextError('file.policyField', { field: `policy.${field}`, value: JSON.stringify(p[field]) ?? String(p[field]), expected });
  };
  // A null is the field left out, as the server reads it (and `formOf`: the default).
  const given = (field: string) => p[field] !== undefined && p[field] !== null;
  const oneOf = (field: string, all: readonly string[]) => {
    if (given(field) && !all.includes(p[field] as string)) refuse(field, all.join(', '));
  };
  oneOf('objective', OBJECTIVES);
  oneOf('solver', SOLVERS);
  const f = p.fairness;
  const share = (x: unknown) =>
    typeof x === 'object' && x !== null && !Array.isArray(x) && Object.keys(x).length === 1 &&
    typeof (x as { min_share?: unknown }).min_share === 'number' &&
    (x as { min_share: number }).min_share >= 0 && (x as { min_share: number }).min_share <= 1;
  if (given('fairness') && !FAIRNESS.some((k) => k !== 'min_share' && k === f) && !share(f)) {
    refuse('fairness', 'none, maxmin, leximin, {"min_share": s} with s in [0, 1]');
  }
  for (const field of ['max_distance_km', 'speed_kmh', 'cost_per_km']) {
    const v = p[field];
    if (given(field) && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) refuse(field, 'a number >= 0');
  }
  if (given('cross_community') && typeof p.cross_community !== 'boolean') refuse('cross_community', 'true, false');
}

/** `policy` with the form's values written over it. */
export function applyForm(policy: Record<string, unknown> | undefined, f: PolicyForm): Record<string, unknown> {
  const p: Record<string, unknown> = { ...(policyObject(policy) ?? {}) };
  p.objective = f.objective;
  p.fairness = f.fairness === 'min_share' ? { min_share: f.minShare } : f.fairness;
  if (f.solver === 'auto') delete p.solver;
  else p.solver = f.solver;
  const set = (k: string, v: number | null) => {
    if (v === null || !Number.isFinite(v)) delete p[k];
    else p[k] = v;
  };
  set('max_distance_km', f.radiusKm);
  set('speed_kmh', f.speedKmh);
  set('cost_per_km', f.costPerKm);
  p.cross_community = f.crossCommunity;
  return p;
}

// What the planner solved: the request (scenario or tables, and the policy) the result on screen
// came from, so its downloads are of that plan, whatever the form says since.

import { tablesForm, type Scenario } from './api';
import { TextError } from './i18n';
import { parseJsonStrict } from './json';
import { applyForm, policyObject, type PolicyForm } from './policy';
import { withoutLinks } from './session';

export type SolveRequest =
  | { kind: 'scenario'; scenario: Scenario }
  | { kind: 'tables'; tables: Map<string, File>; policy: Record<string, unknown> };

/** The request for the loaded scenario (or tables) under the form's policy, copied: later
 * edits of the form do not reach it. Null when nothing is loaded. */
export function solveRequest(
  scenario: Scenario | null,
  tables: Map<string, File> | null,
  tablePolicy: Record<string, unknown> | undefined,
  form: PolicyForm,
): SolveRequest | null {
  if (scenario) return { kind: 'scenario', scenario: { ...scenario, policy: applyForm(scenario.policy, { ...form }) } };
  if (tables) return { kind: 'tables', tables: new Map(tables), policy: applyForm(tablePolicy, { ...form }) };
  return null;
}

/** The scenario a live session starts from when the coordinator starts from the planner's:
 * the policy as the planner's form has it (it was the file's, whatever the planner had
 * changed), and no listed links (a session links by the rules as its needs come and go). */
export function sessionFromPlanner(scenario: Scenario, form: PolicyForm): Scenario {
  return withoutLinks({ ...scenario, policy: applyForm(scenario.policy, { ...form }) });
}

/** The body of the `POST /v1/solve` that answers `req`'s allocations as Parquet, and whether
 * it is JSON (else a multipart form of the tables). */
export function parquetRequest(req: SolveRequest): { body: BodyInit; json: boolean } {
  return req.kind === 'scenario'
    ? { body: JSON.stringify(req.scenario), json: true }
    : { body: tablesForm(req.tables, req.policy, false), json: false };
}

/** The downloads' file name stem: the solved scenario's name, made safe for a file. */
export function fileStem(req: SolveRequest | null): string {
  const name = req?.kind === 'scenario' ? req.scenario.name : undefined;
  return (name ?? 'scenario').replace(/[^\w.-]+/g, '_');
}

/** `f()`, its error (if any) prefixed with the file's name. */
function inFile<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TextError) throw e.inFile(name);
    throw new Error(`${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** A scenario JSON file's text (`name` is the file's) read as the CLI and the API read it: a
 * repeated key (at any depth) is refused, naming its path, and so is a document without
 * `needs` and `resources` lists or with a `policy` that is not an object. */
export function scenarioOfText(text: string, name: string): Scenario {
  return inFile(name, () => {
    const s = parseJsonStrict(text);
    const o = typeof s === 'object' && s !== null && !Array.isArray(s) ? (s as Record<string, unknown>) : {};
    if (!Array.isArray(o.needs) || !Array.isArray(o.resources)) throw new TextError('file.notScenario');
    policyObject(o.policy);
    return o as Scenario;
  });
}

/** A `policy.json` file's text, read as `scenarioOfText` reads a scenario's policy. */
export function policyOfText(text: string, name: string): Record<string, unknown> | undefined {
  return inFile(name, () => policyObject(parseJsonStrict(text)));
}

import { describe, expect, it } from 'vitest';
import { fileStem, parquetRequest, policyOfText, scenarioOfText, sessionFromPlanner, solveRequest } from './planner';
import { formOf } from './policy';
import type { Scenario } from './api';

const scenario: Scenario = {
  name: 'flood north',
  resources: [{ id: 'r1', capacity: { l: 1 } }],
  needs: [{ id: 'n1', demand: { l: 1 } }],
  policy: { max_distance_km: 30, fairness: 'none', group_by: 'community' },
};

describe('the request a plan was solved with', () => {
  it('downloads the plan on screen, not the form edited since', () => {
    const form = formOf(scenario.policy);
    const solved = solveRequest(scenario, null, undefined, form);
    expect(solved).not.toBeNull();
    // The planner changes fairness and radius without solving again.
    form.fairness = 'maxmin';
    form.radiusKm = 1;
    const { body, json } = parquetRequest(solved!);
    expect(json).toBe(true);
    const sent = JSON.parse(body as string) as Scenario;
    expect(sent.policy).toMatchObject({ max_distance_km: 30, fairness: 'none', group_by: 'community' });
    expect(sent.needs).toEqual(scenario.needs);
    expect(sent).not.toHaveProperty('explain');
  });

  it('keeps the tables and the policy of a table solve', async () => {
    const tables = new Map([['needs', new File(['id\nn1\n'], 'needs.csv')], ['resources', new File(['id\nr1\n'], 'resources.csv')]]);
    const form = formOf({ objective: 'cost' });
    const solved = solveRequest(null, tables, { objective: 'cost', time_limit_s: 5 }, form);
    form.objective = 'coverage';
    tables.delete('needs');
    const { body, json } = parquetRequest(solved!);
    expect(json).toBe(false);
    const fd = body as FormData;
    expect(JSON.parse(fd.get('policy') as string)).toMatchObject({ objective: 'cost', time_limit_s: 5 });
    expect(fd.get('explain')).toBe('false');
    expect((fd.get('needs') as File).name).toBe('needs.csv');
  });

  it('has nothing to solve without a scenario, and names files after the scenario', () => {
    expect(solveRequest(null, null, undefined, formOf(undefined))).toBeNull();
    expect(fileStem(solveRequest(scenario, null, undefined, formOf(undefined)))).toBe('flood_north');
    expect(fileStem(null)).toBe('scenario');
  });
});

describe('a scenario or policy file as the planner loads it', () => {
  const needs = (extra: string) =>
    `[{"id":"n0"},{"id":"n1"},{"id":"n2"},{"id":"n3","kind":"water",\n "priority":1,${extra}"demand":{"l":1}}]`;

  it('refuses a key given twice, naming its path, as the CLI and the API do', () => {
    const text = `{"name":"dup","resources":[{"id":"r1"}],"needs":${needs('"priority":100,')}}`;
    expect(() => scenarioOfText(text, 'dup.json')).toThrow(
      'dup.json: duplicate key needs[3].priority (line 2, column 24): a key may appear only once in an object',
    );
    expect(() => policyOfText('{"objective":"coverage","fairness":"none","objective":"cost"}', 'policy.json')).toThrow(
      'policy.json: duplicate key objective (line 1, column 53)',
    );
    const ok = scenarioOfText(`{"name":"ok","resources":[{"id":"r1"}],"needs":${needs('')}}`, 'ok.json');
    expect(ok.needs[3]?.priority).toBe(1);
  });

  it('refuses a policy that is not an object, and takes a null one as none', () => {
    for (const policy of ['"coverage"', '["coverage"]', '3', 'true']) {
      expect(() => scenarioOfText(`{"resources":[],"needs":[],"policy":${policy}}`, 's.json')).toThrow('s.json: policy must be an object');
      expect(() => policyOfText(policy, 'policy.json')).toThrow('policy.json: policy must be an object');
    }
    expect(scenarioOfText('{"resources":[],"needs":[],"policy":null}', 's.json').policy).toBeNull();
    expect(policyOfText('null', 'policy.json')).toBeUndefined();
    expect(policyOfText('{"objective":"cost"}', 'policy.json')).toEqual({ objective: 'cost' });
  });

  it('refuses what is not a scenario', () => {
    for (const text of ['[]', '{"needs":[]}', '"x"', 'null']) {
      expect(() => scenarioOfText(text, 'x.json')).toThrow('x.json: not a scenario');
    }
    expect(() => scenarioOfText('{"needs":', 'x.json')).toThrow(/^x\.json: /);
  });
});

describe('a session started from the planner', () => {
  it('takes the policy of the planner\'s form, not the file\'s, and no listed links', () => {
    const file: Scenario = {
      name: 'f',
      resources: [],
      needs: [],
      links: [{ resource: 'r', need: 'n' }],
      policy: { max_distance_km: 15, fairness: 'maxmin', threads: 2 },
    };
    const form = { ...formOf(file.policy), radiusKm: 0.5, fairness: 'none' as const };
    const s = sessionFromPlanner(file, form);
    expect(s.links).toBeUndefined();
    expect(s.policy?.max_distance_km).toBe(0.5);
    expect(s.policy?.fairness).toBe('none');
    // What the form does not show stays as the file has it.
    expect(s.policy?.threads).toBe(2);
    expect(file.links).toHaveLength(1);
  });
});

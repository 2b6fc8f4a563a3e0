import { describe, expect, it } from 'vitest';
import { fileStem, parquetRequest, solveRequest } from './planner';
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

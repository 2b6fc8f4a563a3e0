import { describe, expect, it } from 'vitest';
import { ApiError, type Dispatch, type Row, type SessionEvent } from './api';
import { translate } from './i18n';
import {
  clockToSend,
  coverage,
  entryDefaults,
  nextId,
  clockUnreadable,
  eventWords,
  loanToReturn,
  outcomeUnknown,
  postIdempotent,
  sessionGone,
  hoursOf,
  hoursText,
  loanStarted,
  overallCoverage,
  proposedFor,
  raiseClock,
  shownDispatches,
  stamp,
  edited,
  otherAmounts,
  changesBetween,
  changeKeys,
  othersChanges,
  type SessionState,
} from './session';

describe('hours of a booking', () => {
  it('reads start and end from an allocation row, a dispatch or a proposal', () => {
    const row: Row = { resource: 'd1', need: 'a', share: 1, start_h: 12, end_h: 17 };
    expect(hoursOf(row)).toEqual({ start: 12, end: 17 });
    expect(hoursOf({ start_h: 18 })).toEqual({ start: 18 });
    expect(hoursOf({ start_h: 0, end_h: 10 })).toEqual({ start: 0, end: 10 });
  });

  it('has none without a start (a snapshot session)', () => {
    expect(hoursOf({})).toBeNull();
    expect(hoursOf({ start_h: null, end_h: 5 })).toBeNull();
    expect(hoursOf({ start_h: '12' })).toBeNull();
    expect(hoursOf({ start_h: Number.NaN })).toBeNull();
  });

  it('says a span, or an open end, in the page’s language', () => {
    const fmt = (x: number) => String(x);
    expect(hoursText({ start: 12, end: 17 }, (k, p) => translate('en', k, p), fmt)).toBe('12–17 h');
    expect(hoursText({ start: 18 }, (k, p) => translate('en', k, p), fmt)).toBe('from 18 h');
    expect(hoursText({ start: 18 }, (k, p) => translate('sv', k, p), fmt)).toBe('från 18 tim');
    const sv = (x: number) => new Intl.NumberFormat('sv-SE').format(x);
    expect(hoursText({ start: 1.5, end: 3.25 }, (k, p) => translate('sv', k, p), sv)).toBe('1,5–3,25 tim');
  });

  it('puts the hours on a proposed match that has them', () => {
    const rows: Row[] = [
      { need: 'b', resource: 'd2', share: 1, start_h: 18, end_h: 23 },
      { need: 'a', resource: 'd1', share: 1 },
    ];
    expect(proposedFor(rows, 'b')).toEqual([{ resource: 'd2', share: 1, hours: { start: 18, end: 23 } }]);
    expect(proposedFor(rows, 'a')[0]).not.toHaveProperty('hours');
  });
});

describe('the clock the page sends', () => {
  it('sends the input’s hour, or none when it is empty', () => {
    expect(clockToSend(18)).toBe(18);
    expect(clockToSend(0)).toBe(0);
    expect(clockToSend(null)).toBeUndefined();
    expect(clockToSend(undefined)).toBeUndefined();
    expect(clockToSend(Number.NaN)).toBeUndefined();
  });

  it('offers a return only for a loan started by the hour the return would carry', () => {
    expect(loanStarted(10, undefined, 1)).toBe(false);
    expect(loanStarted(10, 12, 1)).toBe(true);
    expect(loanStarted(10, 10, undefined)).toBe(true);
    expect(loanStarted(10, undefined, undefined)).toBe(true);
    expect(loanStarted(10, 5, 11)).toBe(true);
    expect(loanStarted(undefined, 12, 12)).toBe(false);
  });

  it('is raised to the session clock after a read, never lowered', () => {
    expect(raiseClock(null, undefined)).toBeNull();
    expect(raiseClock(5, undefined)).toBe(5);
    expect(raiseClock(null, 18)).toBe(18);
    expect(raiseClock(12, 18)).toBe(18);
    expect(raiseClock(18, 18)).toBe(18);
    expect(raiseClock(20, 18)).toBe(20);
    expect(raiseClock(0, 0)).toBe(0);
  });

  it('stamps every event with a fresh id, and with the hour when there is one', () => {
    let n = 0;
    const id = () => `e${++n}`;
    const events: SessionEvent[] = [
      { type: 'resource_returned', id: 'd1' },
      { type: 'dispatch_released', need: 'b', resource: 'd1' },
    ];
    expect(stamp(events, 18, id)).toEqual([
      { type: 'resource_returned', id: 'd1', event_id: 'e1', at: 18 },
      { type: 'dispatch_released', need: 'b', resource: 'd1', event_id: 'e2', at: 18 },
    ]);
    const plain = stamp(events, undefined, id);
    expect(plain.map((e) => e.event_id)).toEqual(['e3', 'e4']);
    expect(plain.every((e) => !('at' in e))).toBe(true);
    expect(events[0]).toEqual({ type: 'resource_returned', id: 'd1' });
    // An hour of 0 is an hour, not "none".
    expect(stamp(events.slice(0, 1), 0, id)[0]).toMatchObject({ at: 0 });
  });
});

describe('dispatches shown', () => {
  it('lists the active ones first, then every return, timed or not', () => {
    const d = (need: string, active: boolean, extra: Partial<Dispatch> = {}): Dispatch => ({
      need, resource: 'd1', fraction: 1, amounts: { units: 1 }, active, ...extra,
    });
    const list = [
      d('a', false, { start_h: 0, end_h: 10, returned_h: 18 }),
      d('b', true, { start_h: 12, end_h: 17 }),
      d('old', false),
      d('c', true),
    ];
    expect(shownDispatches(list).map((x) => x.need)).toEqual(['b', 'c', 'a', 'old']);
  });
});

describe('coverage of a session', () => {
  const dispatch = (need: string, resource: string, fraction: number): Dispatch => ({
    need, resource, fraction, amounts: {}, active: true,
  });
  // a: dispatched in full; b: dispatched in full but its booking is in conflict; c: half
  // dispatched, the other half planned; d: open and planned at 0.
  const state = (withConflict: boolean): SessionState => ({
    seq: 7,
    plan: {
      summary: { coverage_ratio: 0 } as never,
      allocations: [{ need: 'c', resource: 'r2', share: 1 }],
      dispatched: [dispatch('a', 'r1', 1), dispatch('b', 'r1', 1), dispatch('c', 'r2', 0.5)],
    },
    needs: [{ id: 'a', priority: 1 }, { id: 'b', priority: 2 }, { id: 'c', priority: 1 }, { id: 'd' }],
    open: { a: 0, b: 0, c: 0.5, d: 1 },
    resources: [],
    ...(withConflict ? { conflicts: [{ booking: { ...dispatch('b', 'r1', 1), start_h: 12, end_h: 17 }, proposal: [] }] } : {}),
  });

  it('counts a booking in conflict as not covered', () => {
    const c = coverage(state(true));
    expect(c.get('a')).toBe(1);
    expect(c.get('b')).toBe(0);
    expect(c.get('c')).toBeCloseTo(1, 12);
    expect(c.get('d')).toBe(0);
    expect(coverage(state(false)).get('b')).toBe(1);
  });

  it('counts only the conflicting part of a need booked in parts', () => {
    const s = state(true);
    s.plan.dispatched = [dispatch('b', 'r1', 0.6), dispatch('b', 'r3', 0.4)];
    s.conflicts = [{ booking: dispatch('b', 'r1', 0.6), proposal: [] }];
    expect(coverage(s).get('b')).toBeCloseTo(0.4, 12);
  });

  it('is whole over dispatched and planned parts, not the open parts the plan summary covers', () => {
    // Everything dispatched: the plan (of the open parts) covers nothing, the session all.
    const done: SessionState = {
      seq: 2,
      plan: { summary: { coverage_ratio: 0, needs_served: 0 } as never, allocations: [], dispatched: [dispatch('a', 'r1', 1)] },
      needs: [{ id: 'a' }],
      open: { a: 0 },
      resources: [],
    };
    expect(overallCoverage(done.needs, coverage(done))).toEqual({ ratio: 1, served: 1, partly: 0 });
    // Priority-weighted: a 1 of 1, b 0 of 2 (conflict), c 1 of 1, d 0 of 1 -> 2 / 5.
    const s = state(true);
    expect(overallCoverage(s.needs, coverage(s))).toEqual({ ratio: 2 / 5, served: 2, partly: 0 });
    const half = state(false);
    half.plan.allocations = [{ need: 'd', resource: 'r2', share: 0.5 }];
    const o = overallCoverage(half.needs, coverage(half));
    expect(o.served).toBe(2);
    expect(o.partly).toBe(2);
    expect(o.ratio).toBeCloseTo((1 + 2 + 0.5 + 0.5) / 5, 12);
    expect(overallCoverage([], new Map())).toEqual({ ratio: 1, served: 0, partly: 0 });
  });

  it('counts a need short of whole by the solver holds as served in full, as the engine does', () => {
    // The web review's disaster seed: n165 at 0.99994779, served in full in the engine's summary.
    const needs = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
    const covered = new Map([
      ['a', 0.99994779],
      ['b', 0.9998],
      ['c', 1],
    ]);
    const o = overallCoverage(needs, covered);
    expect(o.served).toBe(2);
    expect(o.partly).toBe(1);
  });
});

describe('a change whose answer is lost', () => {
  const lost = () => new ApiError(0, 'network', 'Failed to fetch');
  const noSleep = async () => {};

  it('is resent with the same event ids until an answer comes', async () => {
    let n = 0;
    const batch = stamp([{ type: 'need_added', need: { id: 'n-flood-1' } }], undefined, () => `id-${++n}`);
    const sent: string[] = [];
    let tries = 0;
    const resends: number[] = [];
    const out = await postIdempotent(
      async () => {
        sent.push(JSON.stringify(batch));
        tries += 1;
        if (tries < 3) throw tries === 1 ? lost() : new ApiError(502, 'unknown', 'HTTP 502');
        return { seq: 4 };
      },
      [300, 1000, 2500],
      (r) => resends.push(r),
      noSleep,
    );
    expect(out).toEqual({ seq: 4 });
    expect(resends).toEqual([1, 2]);
    expect(sent).toEqual(Array(3).fill('[{"type":"need_added","need":{"id":"n-flood-1"},"event_id":"id-1"}]'));
  });

  it('is given up after the last wait (outcome unknown), and a refusal is not resent', async () => {
    const waited: number[] = [];
    let tries = 0;
    const failing = postIdempotent(
      async () => {
        tries += 1;
        throw lost();
      },
      [300, 1000, 2500],
      undefined,
      async (ms) => {
        waited.push(ms);
      },
    );
    await expect(failing).rejects.toSatisfy(outcomeUnknown);
    expect([tries, waited]).toEqual([4, [300, 1000, 2500]]);
    tries = 0;
    const refused = postIdempotent(async () => {
      tries += 1;
      throw new ApiError(409, 'conflict', 'need n1 exists already');
    }, undefined, undefined, noSleep);
    await expect(refused).rejects.toMatchObject({ status: 409 });
    expect(tries).toBe(1);
    expect([outcomeUnknown(new ApiError(503, 'unavailable', 'retry')), outcomeUnknown(new ApiError(404, 'not_found', 'session not found')), outcomeUnknown(new Error('x'))]).toEqual([true, false, false]);
  });

  it('is named in a few words', () => {
    const events: SessionEvent[] = [
      { type: 'need_added', need: { id: 'n1' } },
      { type: 'dispatched', need: 'n2', resource: 'truck' },
      { type: 'resource_returned', id: 'd1', need: 'a' },
      { type: 'resource_withdrawn', id: 'van' },
    ];
    expect(events.map(eventWords)).toEqual(['need_added n1', 'dispatched truck → n2', 'resource_returned d1 (a)', 'resource_withdrawn van']);
  });
});

describe('the loan a team-level return ends', () => {
  const loan = (need: string, start_h: number | undefined, active = true): Dispatch => ({
    need, resource: 'd1', fraction: 1, amounts: { units: 1 }, active, ...(start_h === undefined ? {} : { start_h, end_h: start_h + 4 }),
  });

  it('is the earliest started active loan, the first made among equal starts, as the server picks', () => {
    const dispatched = [loan('a', 0, false), loan('c', 20), loan('b', 12), loan('e', 12), { ...loan('x', 1), resource: 'd2' }];
    expect(loanToReturn(dispatched, 'd1', 18, 18)).toBe('b');
    expect(loanToReturn(dispatched, 'd1', undefined, 13)).toBe('b');
    expect(loanToReturn(dispatched.filter((d) => d.need !== 'b'), 'd1', 18, 0)).toBe('e');
    // Nothing started by the hour the return carries: none named (the server says so).
    expect(loanToReturn(dispatched, 'd1', 10, 10)).toBeUndefined();
    expect(loanToReturn([loan('s', undefined)], 'd1', 5, 5)).toBeUndefined();
    expect(loanToReturn(dispatched, 'd3', 30, 30)).toBeUndefined();
  });
});

describe('a session deleted elsewhere', () => {
  it('is told by a 404 of its stream, reads and changes, not by a why route\'s unknown need', () => {
    expect(sessionGone(new ApiError(404, 'not_found', 'session not found'))).toBe(true);
    expect(sessionGone(new ApiError(404, 'unknown', 'HTTP 404'))).toBe(true);
    expect(sessionGone(new ApiError(404, 'not_found', 'need not found'))).toBe(false);
    expect(sessionGone(new ApiError(409, 'conflict', 'session not found'))).toBe(false);
    expect(sessionGone(new ApiError(0, 'network', 'Failed to fetch'))).toBe(false);
  });
});

describe('entryDefaults', () => {
  it('takes the most common kind, a dimension of it and the middle of the places', () => {
    const d = entryDefaults({
      resources: [
        { id: 'a', kind: 'boat', lat: 45, lon: 10, capacity: { seats: 4 } },
        { id: 'b', kind: 'van', lat: 47, lon: 12, capacity: { seats: 8, fuel_l: 60 } },
        { id: 'c', kind: 'van', lat: 46, lon: 11, capacity: { fuel_l: 60 } },
      ],
      needs: [{ id: 'n', kind: 'van', lat: 46, lon: 11, demand: { seats: 2 } }],
    });
    expect(d).toEqual({ kind: 'van', dim: 'seats', lat: 46, lon: 11 });
  });
  it('rounds the middle to 6 decimals, as a coordinate is typed', () => {
    const d = entryDefaults({
      resources: [
        { id: 'a', kind: 'van', lat: 59.33, lon: 18.06, capacity: { seats: 4 } },
        { id: 'b', kind: 'van', lat: 59.34, lon: 18.07, capacity: { seats: 4 } },
      ],
      needs: [],
    });
    // The plain mean of the longitudes is 18.064999999999998.
    expect((18.06 + 18.07) / 2).not.toBe(18.065);
    expect(d).toEqual({ kind: 'van', dim: 'seats', lat: 59.335, lon: 18.065 });
  });
  it('is null for a session without places or kinds', () => {
    expect(entryDefaults({ resources: [], needs: [] })).toBeNull();
    expect(entryDefaults({ resources: [{ id: 'a', kind: 'k', capacity: { u: 1 } }], needs: [] })).toBeNull();
  });
});

describe('an entity edited in a form', () => {
  const original = {
    id: 'n1', kind: 'water', lat: null, lon: null, priority: 2, min_fill: 0.5,
    demand: { water_l: 100, kits: 2 }, earliest: 4,
  };
  const shown = { kind: 'water', dim: 'water_l', amount: 100, lat: 0, lon: 0, priority: 2 };

  it('keeps every field the form did not change', () => {
    expect(edited(original, shown, { ...shown }, 'demand')).toEqual(original);
    // A need without a position keeps none: the form's 0 was only a default.
    const more = edited(original, shown, { ...shown, amount: 150 }, 'demand');
    expect(more).toEqual({ ...original, demand: { water_l: 150, kits: 2 } });
  });

  it('writes what changed, a renamed dimension replacing the one shown', () => {
    const moved = edited(original, shown, { ...shown, lat: 59.3, priority: 5, dim: 'water_litres', amount: 90 }, 'demand');
    // The position goes whole (lat without lon is refused): the form's lon with the new lat.
    expect(moved).toEqual({ ...original, lat: 59.3, lon: 0, priority: 5, demand: { water_litres: 90, kits: 2 } });
    const team = { id: 't', kind: 'water', capacity: { water_l: 1000 }, lat: 1, lon: 2 };
    const tShown = { kind: 'water', dim: 'water_l', amount: 1000, lat: 1, lon: 2 };
    expect(edited(team, tShown, { ...tShown, amount: 400 }, 'capacity')).toEqual({ ...team, capacity: { water_l: 400 } });
  });

  it('sets a dimension the entity has, keeping the one shown', () => {
    // beds shown; meals named: meals set, beds kept (it was dropped, as a rename).
    expect(edited(original, shown, { ...shown, dim: 'kits', amount: 5 }, 'demand')).toEqual({
      ...original,
      demand: { water_l: 100, kits: 5 },
    });
    expect(otherAmounts(original, 'demand', ['water_l'])).toBe('kits 2');
    expect(otherAmounts(original, 'demand', ['kits'])).toBe('water_l 100');
    expect(otherAmounts(original, 'demand', ['meals', 'water_l'])).toBe('kits 2');
    expect(otherAmounts(undefined, 'demand', ['kits'])).toBe('');
  });

  it('writes its change over the entity as last read, not as the form was filled', () => {
    // Another coordinator raised the priority and moved the need after the form was filled;
    // this one changes the amount only: the other's change stays.
    const now = { ...original, priority: 9, lat: 59.4, lon: 18.1 };
    expect(edited(now, shown, { ...shown, amount: 200 }, 'demand')).toEqual({
      ...now,
      demand: { water_l: 200, kits: 2 },
    });
  });
});

describe('nextId', () => {
  const none = () => false;
  it('counts the trailing number up, as wide as it was', () => {
    expect(nextId('n7', none)).toBe('n8');
    expect(nextId('flood-09', none)).toBe('flood-10');
    expect(nextId('t-099', none)).toBe('t-100');
    expect(nextId('9', none)).toBe('10');
    expect(nextId('n99999999999999999999', none)).toBe('n100000000000000000000');
  });
  it('skips ids the session holds', () => {
    const held = new Set(['n8', 'n9']);
    expect(nextId('n7', (x) => held.has(x))).toBe('n10');
  });
  it('offers nothing for an id without a trailing number', () => {
    expect(nextId('truck', none)).toBe('');
    expect(nextId('', none)).toBe('');
    expect(nextId('7a', none)).toBe('');
  });
});

describe('clockUnreadable', () => {
  it('takes an empty field and any finite hour', () => {
    expect(clockUnreadable(null, false)).toBe(false);
    expect(clockUnreadable(undefined, false)).toBe(false);
    expect(clockUnreadable(0, false)).toBe(false);
    expect(clockUnreadable(1e300, false)).toBe(false);
  });
  it('refuses a value past a double and text the browser could not read', () => {
    expect(clockUnreadable(Infinity, false)).toBe(true);
    expect(clockUnreadable(NaN, false)).toBe(true);
    expect(clockUnreadable(null, true)).toBe(true);
  });
});

describe('changes between two reads', () => {
  const d = (need: string, resource: string, active = true): Dispatch => ({ need, resource, fraction: 1, amounts: {}, active });
  const read = (needs: string[], teams: string[], dispatched: Dispatch[], amount = 1): SessionState => ({
    seq: 1,
    plan: { summary: {} as never, allocations: [], dispatched },
    needs: needs.map((id) => ({ id, demand: { l: id === 'n1' ? amount : 1 } })),
    open: {},
    resources: teams.map((id) => ({ id })),
  });

  it('names what was added, changed, withdrawn, sent out and back', () => {
    const before = read(['n1', 'n2', 'n3'], ['t1', 't2'], [d('n2', 't1'), d('n3', 't2')]);
    const after = read(['n1', 'n3', 'n4'], ['t1', 't3'], [d('n1', 't1'), d('n3', 't2', false)], 5);
    expect(changesBetween(before, after).map((c) => [c.what, c.id])).toEqual([
      ['needChanged', 'n1'],
      ['needAdded', 'n4'],
      ['needWithdrawn', 'n2'],
      ['teamAdded', 't3'],
      ['teamWithdrawn', 't2'],
      ['dispatched', 't1 → n1'],
      // n2's dispatch went with n2.
      ['back', 't2 → n3'],
    ]);
    expect(changesBetween(after, after)).toEqual([]);
  });

  it('keys the page\'s own events as the changes they make', () => {
    const before = read(['n1'], ['t1'], []);
    const after = read(['n1', 'n2'], ['t1'], [d('n1', 't1')]);
    const own: SessionEvent[] = [
      { type: 'need_added', need: { id: 'n2' } },
      { type: 'dispatched', need: 'n1', resource: 't1' },
    ];
    const keys = new Set(own.flatMap(changeKeys));
    expect(changesBetween(before, after).every((c) => keys.has(c.key))).toBe(true);
    const back = changesBetween(after, read(['n1', 'n2'], ['t1'], [d('n1', 't1', false)]));
    expect(back.map((c) => c.key)).toEqual(changeKeys({ type: 'resource_returned', id: 't1' }));
  });

  it('takes a team back that ends two loans as the page\'s own, and keeps no key after', () => {
    const out = read(['n1', 'n2'], ['t1'], [d('n1', 't1'), d('n2', 't1')]);
    const back = read(['n1', 'n2'], ['t1'], [d('n1', 't1', false), d('n2', 't1', false)]);
    const own = new Set(changeKeys({ type: 'resource_returned', id: 't1' }));
    const all = changesBetween(out, back);
    expect(all.map((c) => c.key)).toEqual(['back t1', 'back t1']);
    expect(othersChanges(all, own)).toEqual([]);
    expect(own.size).toBe(0);
    // Another client's return of the same team later is said as theirs.
    expect(othersChanges(all, own).map((c) => c.what)).toEqual(['back', 'back']);
  });
});

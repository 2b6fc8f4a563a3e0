import { describe, expect, it } from 'vitest';
import { columnsOf, filterRows, parseCsv, positionsOfCsv, showCell, sortRows, toCsv } from './tables';

const rows = [
  { need: 'b-2', share: 0.5, note: 'has, comma' },
  { need: 'a-10', share: 1, note: 'say "hi"' },
  { need: 'a-9', share: null, note: 'two\nlines' },
];

describe('toCsv and parseCsv', () => {
  it('round-trip quoted commas, quotes and line breaks', () => {
    const back = parseCsv(toCsv(rows));
    expect(back[0]).toEqual(['need', 'share', 'note']);
    expect(back.slice(1)).toEqual([
      ['b-2', '0.5', 'has, comma'],
      ['a-10', '1', 'say "hi"'],
      ['a-9', '', 'two\nlines'],
    ]);
  });

  it('reads exactly what RFC 4180 says, with either line end', () => {
    expect(parseCsv('a,b\n1,"x,""y"""\r\n2,\n')).toEqual([['a', 'b'], ['1', 'x,"y"'], ['2', '']]);
    expect(parseCsv('a\n"multi\nline"')).toEqual([['a'], ['multi\nline']]);
    expect(parseCsv('')).toEqual([]);
  });

  it('keeps formulas from running in a spreadsheet, and numbers as they are', () => {
    const text = toCsv([{ id: '=1+1', n: -3, s: '@x', ok: 'a-b' }]);
    expect(parseCsv(text)[1]).toEqual(["'=1+1", '-3', "'@x", 'a-b']);
  });

  it('finds positions in a table for the map', () => {
    const csv = 'kind,id,lon,lat\nvan,v1,18.07,59.33\nvan,v2,,\ntruck,t1,"18.1",59.3\n';
    expect(positionsOfCsv(csv)).toEqual([
      { id: 'v1', lat: 59.33, lon: 18.07 },
      { id: 't1', lat: 59.3, lon: 18.1 },
    ]);
    expect(positionsOfCsv('id,x\na,1\n')).toEqual([]);
  });
});

describe('sortRows and filterRows', () => {
  it('sorts numbers as numbers and text naturally, empty cells last both ways', () => {
    expect(sortRows(rows, 'share', 'ascending').map((r) => r.need)).toEqual(['b-2', 'a-10', 'a-9']);
    expect(sortRows(rows, 'share', 'descending').map((r) => r.need)).toEqual(['a-10', 'b-2', 'a-9']);
    expect(sortRows(rows, 'need', 'ascending').map((r) => r.need)).toEqual(['a-9', 'a-10', 'b-2']);
    expect(sortRows(rows, null, 'ascending')).toEqual(rows);
  });

  it('keeps rows holding every word of the query', () => {
    expect(filterRows(rows, 'A-')).toHaveLength(2);
    expect(filterRows(rows, 'a- hi').map((r) => r.need)).toEqual(['a-10']);
    expect(filterRows(rows, '  ')).toHaveLength(3);
  });

  it('lists columns and shows cells', () => {
    expect(columnsOf(rows)).toEqual(['need', 'share', 'note']);
    expect(showCell(1 / 3)).toBe('0.333');
    expect(showCell(1 / 3, 'sv')).toBe('0,333');
    expect(showCell(39.4291, 'sv')).toBe('39,429');
    expect(showCell(1264.5)).toBe('1264.5');
    expect(showCell(-0.0004)).toBe('0');
    expect(showCell(-2.5, 'sv')).toBe('−2,5');
    expect(showCell(-2, 'sv')).toBe('−2');
    expect(showCell(123456789)).toBe('123456789');
    expect(filterRows([{ a: 1 / 3 }, { a: 2 }], '0,333', 'sv')).toEqual([{ a: 1 / 3 }]);
    expect(showCell(null)).toBe('');
    expect(showCell(4)).toBe('4');
  });
});

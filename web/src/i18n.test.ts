import { describe, expect, it } from 'vitest';
import { CATALOGUE, LANGS, pickLanguage, translate, type Key } from './i18n';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('catalogue', () => {
  it('has every key in every language, with the same placeholders', () => {
    const en = Object.keys(CATALOGUE.en).sort();
    for (const lang of LANGS) {
      expect(Object.keys(CATALOGUE[lang]).sort()).toEqual(en);
      for (const k of en as Key[]) {
        expect(CATALOGUE[lang][k].trim().length, `${lang} ${k}`).toBeGreaterThan(0);
        expect(placeholders(CATALOGUE[lang][k]), `${lang} ${k}`).toEqual(placeholders(CATALOGUE.en[k]));
      }
    }
  });

  it('is really translated: most Swedish strings differ from the English ones', () => {
    const keys = Object.keys(CATALOGUE.en) as Key[];
    const same = keys.filter((k) => CATALOGUE.sv[k] === CATALOGUE.en[k]);
    expect(same.length / keys.length).toBeLessThan(0.15);
  });

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(translate('en', 'common.rows', { shown: 3, total: 10 })).toBe('3 of 10 rows');
    expect(translate('sv', 'common.rows', { shown: 3, total: 10 })).toBe('3 av 10 rader');
    expect(translate('en', 'common.rows', { shown: 3 })).toBe('3 of {total} rows');
  });
});

describe('pickLanguage', () => {
  it('takes the first shipped language of the browser list', () => {
    expect(pickLanguage(['sv-SE', 'en-US'])).toBe('sv');
    expect(pickLanguage(['de-DE', 'sv'])).toBe('sv');
    expect(pickLanguage(['en-GB', 'sv-SE'])).toBe('en');
    expect(pickLanguage(['fi-FI'])).toBe('en');
    expect(pickLanguage([])).toBe('en');
  });
});

describe('reasons', () => {
  // Every reason code the engine writes (SPEC's explanations, the engine's `Reason`): a
  // short label and a sentence in every language.
  const reasons = ['served', 'no_candidate', 'capacity', 'fairness', 'time', 'min_fill', 'infeasible', 'objective', 'time_limit'];
  it('has a label and a sentence for every reason code', () => {
    for (const lang of LANGS) {
      for (const r of reasons) {
        expect(CATALOGUE[lang][`reason.${r}` as Key], `${lang} reason.${r}`).toBeTruthy();
        expect(CATALOGUE[lang][`reasonText.${r}` as Key], `${lang} reasonText.${r}`).toBeTruthy();
      }
    }
  });
});

import { describe, expect, it } from 'vitest';
import { CONTEXT_PRIOR_BETA, contextPriors } from '../../src/pipeline/annotate.js';

describe('contextPriors', () => {
  const priors = new Map([['country', 0.9], ['team', 0.02], ['elsewhere', 0.08]]);

  it('reweights the candidates the name points to by exp(beta x score), keeping their total', () => {
    // a football window: the query scores the team 10 above the country
    const out = contextPriors(priors, [{ id: 'country', score: 20 }, { id: 'team', score: 30 }, { id: 'other', score: 40 }], CONTEXT_PRIOR_BETA);
    const country = 0.9 * Math.exp(0.5 * -10);
    const team = 0.02;
    expect(out.get('team')).toBeCloseTo((team / (country + team)) * 0.92, 12);
    expect(out.get('country')).toBeCloseTo((country / (country + team)) * 0.92, 12);
    expect(out.get('elsewhere')).toBe(0.08); // not a candidate of this window: unchanged
    expect(out.has('other')).toBe(false); // a candidate the name does not point to gets no prior
    expect((out.get('team') as number) > (out.get('country') as number)).toBe(true);
  });

  it('changes nothing without two scored candidates of the name, or at beta 0', () => {
    expect(contextPriors(priors, [{ id: 'country', score: 1 }], 0.5)).toBe(priors);
    expect(contextPriors(priors, [{ id: 'country', score: Number.NaN }, { id: 'team', score: Number.NaN }], 0.5)).toBe(priors);
    expect(contextPriors(priors, [{ id: 'country', score: 1 }, { id: 'team', score: 9 }], 0)).toBe(priors);
  });

  it('equal scores leave the priors as they are', () => {
    const out = contextPriors(priors, [{ id: 'country', score: 3 }, { id: 'team', score: 3 }], 0.5);
    expect(out.get('country')).toBeCloseTo(0.9, 12);
    expect(out.get('team')).toBeCloseTo(0.02, 12);
  });
});

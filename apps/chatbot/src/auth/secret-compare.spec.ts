import { describe, expect, it } from '@jest/globals';
import { bearerToken, secretEquals } from './secret-compare.js';

describe('secretEquals', () => {
  it('matches equal secrets only', () => {
    expect(secretEquals('key-acme-0001', 'key-acme-0001')).toBe(true);
    expect(secretEquals('key-acme-0002', 'key-acme-0001')).toBe(false);
  });

  it('compares secrets of different lengths without throwing', () => {
    expect(secretEquals('k', 'key-acme-0001')).toBe(false);
    expect(secretEquals('', 'key-acme-0001')).toBe(false);
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer abc123', 'abc123'],
    ['bearer abc123', 'abc123'],
    ['Bearer   abc123  ', 'abc123'],
    ['Basic abc123', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    [undefined, undefined],
  ])('reads %j as %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

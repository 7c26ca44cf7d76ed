import { describe, expect, it } from '@jest/globals';
import { parseRedisConf, quoteArg, splitArgs } from './redis-conf.parser.js';

describe('redis.conf parser (sdssplitargs rules)', () => {
  it.each([
    ['maxmemory 256mb', ['maxmemory', '256mb']],
    ['  save 900 1   300 10 ', ['save', '900', '1', '300', '10']],
    ['save ""', ['save', '']],
    ['requirepass "with space"', ['requirepass', 'with space']],
    ['requirepass "tab\\there\\x41"', ['requirepass', 'tab\thereA']],
    ["requirepass 'it\\'s'", ['requirepass', "it's"]],
    ['logfile ""', ['logfile', '']],
  ])('splits %j', (line, expected) => {
    expect(splitArgs(line)).toEqual(expected);
  });

  it.each(['requirepass "open', "requirepass 'open", 'requirepass "closed"glued'])(
    'refuses unbalanced quotes in %j',
    (line) => {
      expect(splitArgs(line)).toBeUndefined();
    },
  );

  it('skips comments and blank lines, keeps 1-based line numbers and lower-cases names', () => {
    const { directives, errors } = parseRedisConf(
      '# comment\n\nMAXMEMORY 1gb\n  # indented comment\nport 7000\n',
    );
    expect(errors).toEqual([]);
    expect(directives).toEqual([
      { line: 3, name: 'maxmemory', args: ['1gb'] },
      { line: 5, name: 'port', args: ['7000'] },
    ]);
  });

  it('reports the line of a syntax error', () => {
    expect(parseRedisConf('port 1\nrequirepass "oops\n').errors).toEqual([
      expect.stringMatching(/^line 2: unbalanced quotes/),
    ]);
  });

  it.each(['plain', '', 'with space', 'quote"inside', "single'", 'back\\slash', 'new\nline', 'ünïcode'])(
    'quotes %j so that it reads back unchanged',
    (value) => {
      expect(splitArgs(`x ${quoteArg(value)}`)).toEqual(['x', value]);
    },
  );
});

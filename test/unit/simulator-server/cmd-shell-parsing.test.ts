import { splitOperators, tokenize } from '../../../src/simulator/cmd-shell';

// tokenize splits on JavaScript's \s (every Unicode space, BOM included), as it did with /\s/.
describe('tokenize whitespace and quotes', () => {
  it.each([
    ['a\u00a0b', ['a', 'b']],
    ['a\u3000b\u2028c', ['a', 'b', 'c']],
    ['\ufeffa\vb\fc', ['a', 'b', 'c']],
    ['a\u200bb', ['a\u200bb']],
    ['a\u0085b', ['a\u0085b']],
    ['"a b"c" d"', ['a bc d']],
    ['x "unterminated  y', ['x', 'unterminated  y']],
    ['""', ['']],
  ])('%j', (text, values) => {
    expect(tokenize(text).map((t) => t.value)).toEqual(values);
  });

  it('reports each token span in the original text', () => {
    expect(tokenize('  ab "c d"  e')).toEqual([
      { value: 'ab', start: 2, end: 4 },
      { value: 'c d', start: 5, end: 10 },
      { value: 'e', start: 12, end: 13 },
    ]);
  });
});

describe('splitOperators runs', () => {
  it.each([
    [
      'a ^^& b',
      [
        { op: null, text: 'a ^' },
        { op: '&', text: ' b' },
      ],
    ],
    ['a ^>&2', [{ op: null, text: 'a >&2' }]],
    [
      'a >&2 && b',
      [
        { op: null, text: 'a >&2 ' },
        { op: '&&', text: ' b' },
      ],
    ],
    ['a ^', [{ op: null, text: 'a ^' }]],
    [
      '&&x',
      [
        { op: null, text: '' },
        { op: '&&', text: 'x' },
      ],
    ],
    [
      'a|b || c',
      [
        { op: null, text: 'a|b ' },
        { op: '||', text: ' c' },
      ],
    ],
  ])('%j', (line, parts) => {
    expect(splitOperators(line)).toEqual(parts);
  });
});

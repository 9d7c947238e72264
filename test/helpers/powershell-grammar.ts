// Test-only PowerShell grammar check with tree-sitter-powershell. The package is an ES module
// with top-level await, so from CommonJS we load its native binding directly.
import path from 'node:path';

interface SyntaxNode {
  type: string;
  isMissing: boolean;
  hasError: boolean;
  startPosition: { row: number; column: number };
  text: string;
  childCount: number;
  child(i: number): SyntaxNode | null;
}

interface Tree {
  rootNode: SyntaxNode;
}

interface TreeSitterParser {
  setLanguage(lang: unknown): void;
  parse(text: string): Tree;
}

let parser: TreeSitterParser | undefined;

/**
 * The tree-sitter parser. Only one test file may load it (test/unit/operations/templates.test.ts):
 * its native addon loads once per process, and a second test file in the same jest worker gets
 * broken trees (`rootNode` undefined) — even through Node's own require.
 */
export function powershellParser<T = TreeSitterParser>(): T {
  if (!parser) {
    const Parser = require('tree-sitter') as new () => TreeSitterParser;
    const lang = require('node-gyp-build')(
      path.dirname(require.resolve('tree-sitter-powershell/package.json')),
    );
    lang.nodeTypeInfo = require('tree-sitter-powershell/src/node-types.json');
    parser = new Parser();
    parser.setLanguage(lang);
  }
  return parser as T;
}

function getParser(): TreeSitterParser {
  return powershellParser();
}

export interface GrammarProblem {
  kind: 'ERROR' | 'MISSING';
  line: number;
  column: number;
  text: string;
}

/** ERROR and MISSING nodes of the parse tree (empty = the script parses cleanly). */
export function powershellSyntaxProblems(script: string): GrammarProblem[] {
  const tree = getParser().parse(script);
  const problems: GrammarProblem[] = [];
  const walk = (node: SyntaxNode): void => {
    if (node.type === 'ERROR' || node.isMissing) {
      problems.push({
        kind: node.type === 'ERROR' ? 'ERROR' : 'MISSING',
        line: node.startPosition.row + 1,
        column: node.startPosition.column + 1,
        text: node.text.slice(0, 80),
      });
    }
    if (!node.hasError && !node.isMissing) return;
    for (let i = 0; i < node.childCount; i += 1) {
      const c = node.child(i);
      if (c) walk(c);
    }
  };
  walk(tree.rootNode);
  return problems;
}

// Extracts the commands a template runs and the parameter names it passes them, from the
// tree-sitter parse: `-Name` parameters, and the keys of hashtables splatted with `@var`.
import { powershellParser } from '../../helpers/powershell-grammar';

interface Node {
  type: string;
  text: string;
  childCount: number;
  child(i: number): Node | null;
  childForFieldName(name: string): Node | null;
}

function getParser(): { parse(text: string): { rootNode: Node } } {
  return powershellParser();
}

export interface CommandUse {
  command: string;
  parameters: string[];
}

function splatKeys(script: string, variable: string): string[] {
  const keys = new Set<string>();
  const name = variable.replace(/^@/, '');
  const literal = new RegExp(`\\$${name}\\s*=\\s*@\\{([^}]*)\\}`, 'g');
  for (const m of script.matchAll(literal)) {
    for (const k of m[1]!.matchAll(/(?:^|;)\s*([A-Za-z][A-Za-z0-9]*)\s*=/g)) keys.add(k[1]!);
  }
  const indexer = new RegExp(`\\$${name}\\['([A-Za-z][A-Za-z0-9]*)'\\]\\s*=`, 'g');
  for (const m of script.matchAll(indexer)) keys.add(m[1]!);
  return [...keys];
}

/** Every command invocation with the parameters it receives (merged per command name). */
export function commandsOf(script: string): CommandUse[] {
  const root = getParser().parse(script).rootNode;
  const found: CommandUse[] = [];
  const walk = (node: Node): void => {
    if (node.type === 'command') {
      const nameNode = node.childForFieldName('command_name');
      const elements = node.childForFieldName('command_elements');
      const parameters: string[] = [];
      if (nameNode && elements) {
        for (let i = 0; i < elements.childCount; i++) {
          const el = elements.child(i)!;
          if (el.type === 'command_parameter') parameters.push(el.text.replace(/^-/, '').replace(/:$/, ''));
          else if (/^@[A-Za-z]/.test(el.text.trim())) parameters.push(...splatKeys(script, el.text.trim()));
        }
      }
      if (nameNode && /^[A-Za-z][A-Za-z0-9-]*$/.test(nameNode.text))
        found.push({ command: nameNode.text, parameters });
    }
    for (let i = 0; i < node.childCount; i++) walk(node.child(i)!);
  };
  walk(root);
  return found;
}

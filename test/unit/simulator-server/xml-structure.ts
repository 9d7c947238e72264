// Element structure of an XML document for comparing our replies with real captures: prefixed
// element names, nesting and attribute names (as sets), no values. Consecutive siblings with the
// same structure collapse into one, since how many Stream pieces carry the output varies.
import { XMLParser } from 'fast-xml-parser';

export interface XmlShape {
  name: string;
  attrs: string[];
  children: XmlShape[];
}

const parser = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '' });

type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, unknown> };

function toShape(node: OrderedNode, ignore: ReadonlySet<string>): XmlShape | undefined {
  const name = Object.keys(node).find((k) => k !== ':@');
  if (!name || name === '#text' || name.startsWith('?') || ignore.has(name)) return undefined;
  const attrs = Object.keys(node[':@'] ?? {}).sort();
  const kids = (node[name] as OrderedNode[] | undefined) ?? [];
  return {
    name,
    attrs,
    children: collapse(kids.map((k) => toShape(k, ignore)).filter((s): s is XmlShape => !!s)),
  };
}

function collapse(shapes: XmlShape[]): XmlShape[] {
  const out: XmlShape[] = [];
  for (const s of shapes) {
    const prev = out[out.length - 1];
    if (prev && JSON.stringify(prev) === JSON.stringify(s)) continue;
    out.push(s);
  }
  return out;
}

/** Shape of the root element; `ignore` drops elements by prefixed name (e.g. p:ActivityId). */
export function xmlShape(xml: string, ignore: readonly string[] = []): XmlShape {
  const nodes = parser.parse(xml) as OrderedNode[];
  const shapes = nodes.map((n) => toShape(n, new Set(ignore))).filter((s): s is XmlShape => !!s);
  if (shapes.length !== 1) throw new Error(`expected one root element, got ${shapes.length}`);
  return shapes[0] as XmlShape;
}

/** Indented one-line-per-element rendering, so a mismatch reads well in a Jest diff. */
export function renderShape(shape: XmlShape, depth = 0): string {
  const line = `${'  '.repeat(depth)}${shape.name}${shape.attrs.length ? ` [${shape.attrs.join(' ')}]` : ''}`;
  return [line, ...shape.children.map((c) => renderShape(c, depth + 1))].join('\n');
}

// powershell.exe under WinRS writes its error/warning streams to stderr as CLIXML
// ("#< CLIXML" + <Objs>). This turns that into the text a console would have shown.
// Progress records are dropped; anything that is not CLIXML passes through unchanged.

const MARKER = '#< CLIXML';
const STREAM_PREFIX: Record<string, string> = {
  Error: '',
  Warning: 'WARNING: ',
  Verbose: 'VERBOSE: ',
  Debug: 'DEBUG: ',
  Information: '',
};

function decodeXmlEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);/g, (_, ent: string) => {
    switch (ent) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default: {
        const cp = ent.startsWith('#x') ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
        return cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
      }
    }
  });
}

/** PowerShell serialisation escapes characters as _xHHHH_ (UTF-16 code units). */
function decodePsEscapes(s: string): string {
  return s.replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export function isClixml(text: string): boolean {
  return text
    .replace(/^\uFEFF/, '')
    .trimStart()
    .startsWith(MARKER);
}

function renderObjs(xml: string): string {
  let out = '';
  const re = /<S\s+S="([A-Za-z]+)"\s*>([\s\S]*?)<\/S>|<S\s+S="([A-Za-z]+)"\s*\/>/g;
  for (let m = re.exec(xml); m !== null; m = re.exec(xml)) {
    const stream = m[1] ?? m[3] ?? '';
    const value = m[2] ?? '';
    out += (STREAM_PREFIX[stream] ?? '') + decodePsEscapes(decodeXmlEntities(value));
  }
  return out;
}

/** Readable text for a stderr capture; BOM tolerated; non-CLIXML text returned as is. */
export function clixmlToText(stderr: string): string {
  const text = stderr.replace(/^\uFEFF/, '');
  const first = text.indexOf(MARKER);
  if (first < 0) return text;
  let out = text.slice(0, first);
  for (const part of text.slice(first).split(MARKER)) {
    const start = part.indexOf('<Objs');
    if (start < 0) {
      out += part.trim();
      continue;
    }
    const end = part.indexOf('</Objs>', start);
    const objs = end < 0 ? part.slice(start) : part.slice(start, end + '</Objs>'.length);
    out += renderObjs(objs);
    if (end >= 0) out += part.slice(end + '</Objs>'.length).replace(/^\s+/, '');
  }
  return out.replace(/\r\n/g, '\n').replace(/\s+$/, '');
}

// Caller paths on a Hyper-V host: only absolute local (`X:\…`) or SMB (`\\server\share\…`) paths,
// normalised, and only under the host's configured roots (DESIGN principle 3). Anything that
// Windows would resolve somewhere else than it reads is refused rather than rewritten: `..`,
// device namespaces (`\\?\`, `\\.\`), alternate data streams, reserved device names and
// trailing dots or spaces (Windows strips them, so `Hyper-V.` would be `Hyper-V`).

import { HvgError } from '../errors/hvg-error';

export interface NormalisedPath {
  /** Backslashes, single separators, drive letter upper-cased, caller's casing otherwise. */
  path: string;
  /** Case-insensitive comparison key. */
  key: string;
}

const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;
const ILLEGAL = /[<>"|?*]/;
const MAX_PATH = 1024;

function hasControlChar(text: string): boolean {
  for (let i = 0; i < text.length; i++)
    if (text.charCodeAt(i) < 0x20 || text.charCodeAt(i) === 0x7f) return true;
  return false;
}

/** Reason the path is unusable, or the normalised path. */
export function normaliseWindowsPath(raw: string): NormalisedPath | { problem: string } {
  if (raw.length === 0) return { problem: 'the path is empty' };
  if (raw.length > MAX_PATH) return { problem: `the path is longer than ${MAX_PATH} characters` };
  if (hasControlChar(raw)) return { problem: 'the path contains control characters' };
  const text = raw.replace(/\//g, '\\');
  if (/^\\\\[?.]\\/.test(text) || text.startsWith('\\??\\')) {
    return { problem: 'device namespace paths (\\\\?\\, \\\\.\\) are not allowed' };
  }
  let prefix: string;
  let rest: string;
  const drive = /^([A-Za-z]):\\(.*)$/s.exec(text);
  if (drive) {
    prefix = `${drive[1]!.toUpperCase()}:`;
    rest = drive[2]!;
  } else if (text.startsWith('\\\\')) {
    const parts = text.slice(2).split('\\');
    const server = parts[0] ?? '';
    const share = parts[1] ?? '';
    if (server === '' || share === '') return { problem: 'an SMB path needs \\\\server\\share' };
    if (ILLEGAL.test(server) || ILLEGAL.test(share) || server.includes(':') || share.includes(':')) {
      return { problem: 'the server or share name has characters Windows does not allow' };
    }
    prefix = `\\\\${server}\\${share}`;
    rest = parts.slice(2).join('\\');
  } else {
    return { problem: 'only absolute paths (X:\\… or \\\\server\\share\\…) are allowed' };
  }
  if (rest.includes(':'))
    return { problem: 'alternate data streams and drive-relative parts (":") are not allowed' };
  if (ILLEGAL.test(rest)) return { problem: 'the path has characters Windows does not allow (< > " | ? *)' };
  const segments: string[] = [];
  for (const segment of rest.split('\\')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') return { problem: '".." segments are not allowed' };
    if (/[. ]$/.test(segment)) return { problem: `the segment "${segment}" ends in a dot or space` };
    if (RESERVED.test(segment)) return { problem: `"${segment}" is a reserved device name` };
    segments.push(segment);
  }
  const path = segments.length === 0 ? `${prefix}\\` : `${prefix}\\${segments.join('\\')}`;
  return { path, key: path.toLowerCase() };
}

/** True when `path` is strictly inside `root`, compared per segment and case-insensitively. */
export function isUnderRoot(path: NormalisedPath, root: string): boolean {
  const r = normaliseWindowsPath(root);
  if ('problem' in r) return false;
  const rootKey = r.key.endsWith('\\') ? r.key : `${r.key}\\`;
  return path.key.length > rootKey.length && path.key.startsWith(rootKey);
}

/**
 * Normalises a caller path and checks it falls under one of `roots`; throws
 * HVG_ERR_PATH_NOT_ALLOWED naming the field and the roots.
 */
export function requirePathUnderRoots(
  field: string,
  raw: string,
  roots: readonly string[],
  rootKind: 'storage' | 'export',
  hostName: string,
): string {
  const n = normaliseWindowsPath(raw);
  const allowed = [...roots];
  const fail = (why: string): never => {
    throw new HvgError('HVG_ERR_PATH_NOT_ALLOWED', {
      detail: `${field}: ${why}; paths on ${hostName} must fall under its ${rootKind} roots: ${
        allowed.length > 0 ? allowed.join(', ') : '(none configured)'
      }`,
      extensions: { field, allowedRoots: allowed, rootKind },
    });
  };
  if ('problem' in n) return fail(n.problem);
  if (!allowed.some((root) => isUnderRoot(n, root))) return fail(`"${n.path}" is outside the allowed roots`);
  return n.path;
}

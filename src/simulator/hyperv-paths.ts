// Windows path handling for the simulated volumes. Paths arrive as caller data; they are parsed
// the way Windows resolves them (separators, `.`/`..`, case-insensitive) before any root check,
// so `D:\Hyper-V\..\Windows` is seen as `D:\Windows`.

export interface WindowsPath {
  /** Normalized form with the caller's casing (drive letter upper-cased). */
  display: string;
  /** Lower-case form used for lookups and prefix checks. */
  key: string;
  unc: boolean;
}

function hasIllegalCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) < 0x20 || '<>"|?*'.includes(text[i]!)) return true;
  }
  return false;
}

/** Parses an absolute Windows path (`X:\…` or `\\server\share\…`); null when it is not one. */
export function parseWindowsPath(input: string): WindowsPath | null {
  if (input.length === 0 || input.length > 32_000 || hasIllegalCharacters(input)) return null;
  const raw = input.replace(/\//g, '\\');
  let prefix: string;
  let rest: string;
  let unc = false;
  const drive = /^([A-Za-z]):\\(.*)$/s.exec(raw);
  if (drive) {
    prefix = `${drive[1]!.toUpperCase()}:`;
    rest = drive[2]!;
  } else if (raw.startsWith('\\\\')) {
    const parts = raw.slice(2).split('\\');
    const server = parts[0];
    const share = parts[1];
    if (!server || !share || server === '.' || server === '?') return null;
    prefix = `\\\\${server}\\${share}`;
    rest = parts.slice(2).join('\\');
    unc = true;
  } else {
    return null;
  }
  if (rest.includes(':')) return null;
  const segments: string[] = [];
  for (const rawSegment of rest.split('\\')) {
    // Windows drops trailing dots and spaces from each path component.
    const segment = rawSegment === '.' || rawSegment === '..' ? rawSegment : rawSegment.replace(/[. ]+$/, '');
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  const display = segments.length === 0 ? `${prefix}\\` : `${prefix}\\${segments.join('\\')}`;
  return { display, key: display.toLowerCase(), unc };
}

/** True when `path` lies strictly inside `root` (a folder), compared per path segment. */
export function isUnderRoot(path: WindowsPath, root: WindowsPath): boolean {
  const rootKey = root.key.endsWith('\\') ? root.key : `${root.key}\\`;
  return path.key.length > rootKey.length && path.key.startsWith(rootKey);
}

export function isUnderAnyRoot(path: WindowsPath, roots: readonly string[]): boolean {
  return roots.some((r) => {
    const root = parseWindowsPath(r);
    return root !== null && isUnderRoot(path, root);
  });
}

/** Joins a folder and a single file or folder name. */
export function joinWindowsPath(folder: WindowsPath, name: string): WindowsPath | null {
  const base = folder.display.endsWith('\\') ? folder.display : `${folder.display}\\`;
  return parseWindowsPath(`${base}${name}`);
}

/** Last path component (file name). */
export function baseName(path: WindowsPath): string {
  const i = path.display.lastIndexOf('\\');
  return path.display.slice(i + 1);
}

/** The folder containing `path`. */
export function parentFolder(path: WindowsPath): WindowsPath | null {
  const i = path.display.lastIndexOf('\\');
  if (i < 0) return null;
  return parseWindowsPath(path.display.slice(0, i + 1));
}

/** Lower-case extension including the dot (".vhdx"), or "" when there is none. */
export function extensionOf(path: WindowsPath): string {
  const name = baseName(path);
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot).toLowerCase();
}

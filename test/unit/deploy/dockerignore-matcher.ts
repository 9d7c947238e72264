// The .dockerignore rules as the Docker builder applies them, so tests can ask what would be in the build
// context without a Docker engine: patterns are matched against the context-relative path and each of
// its parent directories, `**` spans directories, `!` re-includes, and the last matching rule wins.

interface Rule {
  negated: boolean;
  regex: RegExp;
}

export interface DockerignoreMatcher {
  /** True when `relPath` (forward slashes, relative to the context root) is left out of the context. */
  excludes(relPath: string): boolean;
}

export function createDockerignoreMatcher(text: string): DockerignoreMatcher {
  const rules = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map(toRule)
    .filter((rule): rule is Rule => rule !== null);

  return {
    excludes(relPath: string): boolean {
      const candidates = parentsAndSelf(relPath);
      let excluded = false;
      for (const rule of rules) {
        if (candidates.some((c) => rule.regex.test(c))) excluded = !rule.negated;
      }
      return excluded;
    },
  };
}

function toRule(line: string): Rule | null {
  const negated = line.startsWith('!');
  const pattern = cleanPath(negated ? line.slice(1).trim() : line);
  if (pattern === '' || pattern === '.') return null;
  return { negated, regex: new RegExp(`^${globToRegex(pattern)}$`) };
}

/** Go's filepath.Clean as the builder uses it: no leading `/` or `./`, no duplicate or trailing slashes. */
function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return parts.join('/');
}

function globToRegex(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        // `**/` matches zero or more directories; a trailing or inner `**` matches anything.
        if (pattern[i + 2] === '/') {
          out += '(?:.*/)?';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else {
        out += '[^/]*';
      }
    } else if (ch === '?') {
      out += '[^/]';
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end === -1) {
        out += '\\[';
      } else {
        const body = pattern.slice(i + 1, end).replace(/^\^/, '!');
        out += body.startsWith('!') ? `[^/${escapeClass(body.slice(1))}]` : `[${escapeClass(body)}]`;
        i = end;
      }
    } else if (ch === '\\' && i + 1 < pattern.length) {
      out += escapeRegex(pattern[i + 1]!);
      i += 1;
    } else {
      out += escapeRegex(ch);
    }
  }
  return out;
}

function escapeRegex(ch: string): string {
  return ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function escapeClass(body: string): string {
  return body.replace(/[\\\]^]/g, '\\$&');
}

function parentsAndSelf(relPath: string): string[] {
  const parts = cleanPath(relPath).split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

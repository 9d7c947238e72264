// Real WinRM captures live outside the repo (../shared/fixtures/winrm from the repo root) and
// are read in place; a test that needs them skips loudly when the folder is absent.
import fs from 'node:fs';
import path from 'node:path';

export const WINRM_FIXTURE_DIR = path.resolve(__dirname, '../../../shared/fixtures/winrm');

export function winrmFixturesAvailable(): boolean {
  return fs.existsSync(path.join(WINRM_FIXTURE_DIR, 'README.md'));
}

export function readWinrmFixture(name: string): string {
  return fs.readFileSync(path.join(WINRM_FIXTURE_DIR, name), 'utf8');
}

/** `describe` when the captures are present, otherwise a warned `describe.skip`. */
export function describeWithWinrmFixtures(name: string, fn: () => void): void {
  if (winrmFixturesAvailable()) {
    describe(name, fn);
  } else {
    console.warn(`SKIPPED "${name}": WinRM fixtures not found at ${WINRM_FIXTURE_DIR}`);
    describe.skip(name, fn);
  }
}

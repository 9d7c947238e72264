// xs:duration values as WS-Management uses them (OperationTimeout "PT20S", IdleTimeOut
// "PT7200.000S", ShellRunTime "P0DT0H0M0S").

const DURATION =
  /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

const UNIT_MS = [365 * 86400000, 30 * 86400000, 86400000, 3600000, 60000, 1000];

/**
 * Milliseconds of a non-negative xs:duration, or undefined when the text is not one
 * (negative values such as "PT-1S" are invalid for WS-Management timeouts).
 */
export function parseIsoDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m || text.trim() === 'P' || text.trim().endsWith('T')) return undefined;
  let ms = 0;
  let any = false;
  for (let i = 0; i < UNIT_MS.length; i++) {
    const part = m[i + 1];
    if (part === undefined) continue;
    any = true;
    ms += Number(part) * (UNIT_MS[i] as number);
  }
  return any && Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** Formats milliseconds the way Windows echoes IdleTimeOut: "PT7200.000S". */
export function formatSecondsDuration(ms: number): string {
  return `PT${(ms / 1000).toFixed(3)}S`;
}

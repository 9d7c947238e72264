// Failures while turning a template and caller params into a script. Programming or input errors,
// raised before anything is sent to a host.

export type ScriptRenderErrorCode = 'INVALID_TEMPLATE' | 'INVALID_PARAMS' | 'SCRIPT_TOO_LARGE';

export class ScriptRenderError extends Error {
  readonly code: ScriptRenderErrorCode;
  constructor(code: ScriptRenderErrorCode, message: string) {
    super(message);
    this.name = 'ScriptRenderError';
    this.code = code;
  }
}

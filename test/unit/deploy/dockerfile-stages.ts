// Reads the repository's Dockerfile into build stages so tests can state rules per stage (the runtime
// stage is the last one) instead of per line.
import fs from 'node:fs';
import path from 'node:path';
import {
  Copy,
  DockerfileParser,
  From,
  Instruction,
  JSONInstruction,
  ModifiableInstruction,
  PropertyInstruction,
} from 'dockerfile-ast';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const DOCKERFILE_PATH = path.join(REPO_ROOT, 'Dockerfile');
export const DOCKERIGNORE_PATH = path.join(REPO_ROOT, '.dockerignore');

export interface DockerStage {
  index: number;
  /** The `AS` name, if any. */
  name: string | null;
  from: From;
  /** Instructions after FROM up to the next FROM. */
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  text: string;
  stages: DockerStage[];
  /** Instructions before the first FROM (global ARGs). */
  preamble: Instruction[];
}

export function parseDockerfileText(text: string): ParsedDockerfile {
  const dockerfile = DockerfileParser.parse(text);
  const stages: DockerStage[] = [];
  const preamble: Instruction[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction instanceof From) {
      stages.push({
        index: stages.length,
        name: instruction.getBuildStage(),
        from: instruction,
        instructions: [],
      });
    } else if (stages.length === 0) {
      preamble.push(instruction);
    } else {
      stages[stages.length - 1]!.instructions.push(instruction);
    }
  }
  return { text, stages, preamble };
}

export function loadDockerfile(): ParsedDockerfile {
  return parseDockerfileText(fs.readFileSync(DOCKERFILE_PATH, 'utf8'));
}

export function keyword(instruction: Instruction): string {
  return instruction.getKeyword().toUpperCase();
}

export function byKeyword(stage: DockerStage, kw: string): Instruction[] {
  return stage.instructions.filter((i) => keyword(i) === kw);
}

/** Shell-form RUN text with line continuations folded, so a command can be matched as one line. */
export function runCommands(stage: DockerStage): string[] {
  return byKeyword(stage, 'RUN').map((i) => (i.getArgumentsContent() ?? '').replace(/\\\r?\n/g, ' '));
}

/** Exec-form (JSON array) arguments, or null when the instruction uses the shell form. */
export function jsonArgs(instruction: Instruction): string[] | null {
  if (!(instruction instanceof JSONInstruction)) return null;
  const strings = instruction.getJSONStrings();
  if (strings.length === 0) return null;
  return strings.map((s) => JSON.parse(s.getValue()) as string);
}

export function properties(instruction: Instruction): { name: string; value: string }[] {
  if (!(instruction instanceof PropertyInstruction)) return [];
  return instruction
    .getProperties()
    .map((p) => ({ name: p.getName(), value: unquote(p.getUnescapedValue() ?? '') }));
}

function unquote(value: string): string {
  return /^"[^]*"$/.test(value) ? value.slice(1, -1) : value;
}

/** HEALTHCHECK's exec-form command (the JSON array after CMD), or null for NONE or the shell form. */
export function healthcheckCommand(instruction: Instruction): string[] | null {
  const match = /(?:^|\s)CMD\s+(\[[^]*\])\s*$/.exec(
    (instruction.getArgumentsContent() ?? '').replace(/\\\r?\n/g, ' '),
  );
  if (!match) return null;
  const parsed: unknown = JSON.parse(match[1]!);
  return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : null;
}

/** `--name=value` flags of a HEALTHCHECK, COPY or FROM. */
export function flags(instruction: Instruction): Record<string, string> {
  if (!(instruction instanceof ModifiableInstruction)) return {};
  return Object.fromEntries(instruction.getFlags().map((f) => [f.getName(), f.getValue() ?? '']));
}

export interface CopySource {
  /** Stage name/index for `COPY --from=…`, null for the build context. */
  from: string | null;
  sources: string[];
  destination: string;
}

export function copySources(stage: DockerStage): CopySource[] {
  return stage.instructions
    .filter((i): i is Copy => i instanceof Copy)
    .map((copy) => {
      const args = jsonArgs(copy) ?? copy.getArguments().map((a) => a.getValue());
      return {
        from: copy.getFromFlag()?.getValue() ?? null,
        sources: args.slice(0, -1),
        destination: args[args.length - 1] ?? '',
      };
    });
}

/** The external image a stage starts from, or null when it starts from an earlier stage. */
export function externalBase(parsed: ParsedDockerfile, stage: DockerStage): string | null {
  const image = stage.from.getImage() ?? '';
  const earlier = parsed.stages.slice(0, stage.index).map((s) => s.name);
  return earlier.includes(image) ? null : image;
}

export function stageByName(parsed: ParsedDockerfile, ref: string): DockerStage | undefined {
  return parsed.stages.find((s) => s.name === ref || String(s.index) === ref);
}

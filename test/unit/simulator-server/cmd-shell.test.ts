import {
  MAX_CMD_LINE,
  POWERSHELL_USAGE_EXIT,
  createCmdProgram,
  parsePowerShellArgs,
  splitOperators,
} from '../../../src/simulator/cmd-shell';
import { encodeForCodePage, decodeFromCodePage } from '../../../src/simulator/code-page';
import { OutputStreamName, PowerShellRunner, SimProcessContext } from '../../../src/simulator/sim-process';

interface Run {
  stdout: string;
  stderr: string;
  code: number;
  scripts: string[];
  sleeps: number[];
}

async function run(
  line: string,
  o: { stdin?: string; skipCmdShell?: boolean; runnerCode?: number } = {},
): Promise<Run> {
  const out: Record<OutputStreamName, string> = { stdout: '', stderr: '' };
  const scripts: string[] = [];
  const sleeps: number[] = [];
  const ctx: SimProcessContext = {
    hostName: 'HV-TOKYO-01',
    user: 'Administrator',
    write: (s, d) => {
      out[s] += typeof d === 'string' ? d : d.toString('latin1');
    },
    readStdinToEnd: async () => Buffer.from(o.stdin ?? '', 'utf8'),
    signal: new AbortController().signal,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  };
  const runner: PowerShellRunner = async (script, c) => {
    scripts.push(script);
    c.write('stdout', 'ran\r\n');
    return o.runnerCode ?? 0;
  };
  const code = await createCmdProgram(
    line,
    { runPowerShell: runner, codePage: 65001 },
    { skipCmdShell: o.skipCmdShell },
  )(ctx);
  return { ...out, code, scripts, sleeps };
}

const encode = (script: string): string => Buffer.from(script, 'utf16le').toString('base64');

describe('tiny cmd.exe', () => {
  test('hostname prints the host name with CRLF', async () => {
    expect(await run('hostname')).toMatchObject({ stdout: 'HV-TOKYO-01\r\n', stderr: '', code: 0 });
  });

  test('echo prints its text; bare echo reports the echo state; echo. prints an empty line', async () => {
    expect((await run('echo hello  world')).stdout).toBe('hello  world\r\n');
    expect((await run('echo')).stdout).toBe('ECHO is on.\r\n');
    expect((await run('echo.')).stdout).toBe('\r\n');
    expect((await run('ECHO Upper')).stdout).toBe('Upper\r\n');
  });

  test('exit /b N and exit N set the exit code', async () => {
    expect((await run('exit /b 3')).code).toBe(3);
    expect((await run('exit 7')).code).toBe(7);
    expect((await run('exit')).code).toBe(0);
    expect((await run('echo a & exit /b 4 & echo never')).stdout).toBe('a \r\n');
  });

  test('unknown programs fail with cmd.exe text on stderr and exit 1', async () => {
    const r = await run('frobnicate --now');
    expect(r.stderr).toBe(
      "'frobnicate' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n",
    );
    expect(r.stdout).toBe('');
    expect(r.code).toBe(1);
  });

  test('lines over 8191 characters are refused', async () => {
    const ok = await run(`echo ${'x'.repeat(MAX_CMD_LINE - 5)}`);
    expect(ok.code).toBe(0);
    const long = await run(`echo ${'x'.repeat(MAX_CMD_LINE - 4)}`);
    expect(long).toMatchObject({ stdout: '', stderr: 'The command line is too long.\r\n', code: 1 });
  });

  test('&&, || and & follow the previous exit code; >&2 redirects to stderr', async () => {
    const r = await run('cmd.exe /c echo out && echo err>&2 && exit 1');
    expect(r).toMatchObject({ stdout: 'out \r\n', stderr: 'err \r\n', code: 1 });
    expect((await run('nope 2>nul || echo fallback')).stdout).toBe('fallback\r\n');
    expect((await run('exit /b 0 && echo skipped')).stdout).toBe('');
    expect(splitOperators('echo "a && b" ^& c')).toEqual([{ op: null, text: 'echo "a && b" & c' }]);
  });

  test('> inside double quotes is text, not a redirection (a -Command line may hold #>)', async () => {
    expect((await run('echo "a > b" 2>nul')).stdout).toBe('"a > b" \r\n');
    const r = await run(
      'powershell.exe -NoProfile -Command "<# tag #> $x = 1; & ([ScriptBlock]::Create(\'2\'))"',
    );
    expect(r.scripts).toEqual(["<# tag #> $x = 1; & ([ScriptBlock]::Create('2'))"]);
    expect(r.stdout).toBe('ran\r\n');
  });

  test('ping -n N sleeps N-1 simulated seconds between replies', async () => {
    const r = await run('ping -n 3 127.0.0.1');
    expect(r.code).toBe(0);
    expect(r.sleeps).toEqual([1000, 1000]);
    expect(r.stdout.match(/Reply from 127\.0\.0\.1/g)).toHaveLength(3);
    expect(r.stdout).toContain('Packets: Sent = 3, Received = 3, Lost = 0 (0% loss),');
    const far = await run('ping -n 1 10.1.2.3');
    expect(far.code).toBe(1);
    expect(far.stdout).toContain('could not find host 10.1.2.3');
  });
});

describe('powershell.exe', () => {
  const script = '# hvgate-op: vm.list@1\r\n$x = 1';

  test.each(['-EncodedCommand', '-encodedcommand', '-e', '-ec', '-enc', '-EnCoDeD', '-E'])(
    'decodes %s <base64 UTF-16LE> and hands the script to the runner',
    async (flag) => {
      const r = await run(`powershell.exe -NoProfile -NonInteractive ${flag} ${encode(script)}`);
      expect(r.scripts).toEqual([script]);
      expect(r.stdout).toBe('ran\r\n');
      expect(r.code).toBe(0);
    },
  );

  test('accepts flags with values, any case, with or without .exe and a full path', async () => {
    for (const line of [
      `POWERSHELL -NoLogo -ExecutionPolicy Bypass -ec ${encode(script)}`,
      `powershell -encodedcommand ${encode(script)}`,
      `C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -nop -noni -ep RemoteSigned -e ${encode(script)}`,
    ]) {
      expect((await run(line)).scripts).toEqual([script]);
    }
  });

  test('returns the runner exit code', async () => {
    expect((await run(`powershell -e ${encode(script)}`, { runnerCode: 1 })).code).toBe(1);
  });

  test('-Command text and stdin scripts reach the runner too', async () => {
    expect((await run('powershell.exe Write-Host hi; Start-Sleep 30')).scripts).toEqual([
      'Write-Host hi; Start-Sleep 30',
    ]);
    expect((await run('powershell -NoProfile -Command Get-Date')).scripts).toEqual(['Get-Date']);
    expect((await run('powershell.exe -', { stdin: 'Write-Host x' })).scripts).toEqual(['Write-Host x']);
    // winrm-client's runPowershell line: the quoted block reaches PowerShell without its quotes.
    expect(
      (
        await run(
          'powershell.exe -NoProfile -NonInteractive -NoLogo -ExecutionPolicy Bypass -InputFormat Text -Command "& { Get-Date }"',
        )
      ).scripts,
    ).toEqual(['& { Get-Date }']);
  });

  test('a bad -EncodedCommand value is refused the way powershell.exe does', async () => {
    const r = await run('powershell.exe -EncodedCommand not*base64');
    expect(r.scripts).toEqual([]);
    expect(r.stderr).toContain('not properly encoded');
    expect(r.code).toBe(POWERSHELL_USAGE_EXIT);
    expect((await run('powershell.exe -EncodedCommand')).code).toBe(POWERSHELL_USAGE_EXIT);
  });

  test('without cmd.exe (WINRS_SKIP_CMD_SHELL) the program runs directly and no line limit applies', async () => {
    const long = encode(`${script}\r\n${'#'.repeat(5000)}`);
    const r = await run(`C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -e ${long}`, {
      skipCmdShell: true,
    });
    expect(r.scripts).toHaveLength(1);
  });

  test('parsePowerShellArgs tells -ExecutionPolicy abbreviations from -EncodedCommand', () => {
    expect(parsePowerShellArgs('-ex Bypass -e QQA=')).toMatchObject({ kind: 'encoded', value: 'QQA=' });
    expect(parsePowerShellArgs('-File x.ps1')).toMatchObject({ kind: 'file', path: 'x.ps1' });
    expect(parsePowerShellArgs('-NoProfile')).toEqual({ kind: 'stdin' });
  });
});

describe('code pages', () => {
  test('437 maps known characters and turns the rest into ?', () => {
    expect(encodeForCodePage('é ü こんにちは 😀', 437)).toEqual(
      Buffer.from([0x82, 0x20, 0x81, 0x20, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x20, 0x3f, 0x3f]),
    );
    expect(decodeFromCodePage(Buffer.from([0x82, 0x41]), 437)).toBe('éA');
  });

  test('65001 is UTF-8', () => {
    expect(encodeForCodePage('こ', 65001)).toEqual(Buffer.from('こ', 'utf8'));
  });
});

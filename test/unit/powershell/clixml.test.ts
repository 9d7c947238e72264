import { clixmlToText, isClixml } from '../../../src/powershell/clixml';
import { parseEnvelope, parseReceiveResponse } from '../../../src/winrm/soap-parser';
import { describeWithWinrmFixtures, readWinrmFixture } from '../../helpers/fixtures';

const PROGRESS_AND_ERROR =
  '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">' +
  '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>' +
  '<MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI>' +
  '<PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>' +
  '<S S="Error">Get-VM : Hyper-V was unable to find a virtual machine with id &quot;x&quot; &amp; more_x000D__x000A_</S>' +
  '<S S="Warning">disk is 90% full_x000D__x000A_</S></Objs>';

describe('clixmlToText', () => {
  it('renders error and warning records, drops progress, decodes entities and _xHHHH_', () => {
    expect(isClixml(PROGRESS_AND_ERROR)).toBe(true);
    expect(clixmlToText(PROGRESS_AND_ERROR)).toBe(
      'Get-VM : Hyper-V was unable to find a virtual machine with id "x" & more\nWARNING: disk is 90% full',
    );
  });

  it('tolerates a UTF-8 BOM before the marker and non-ASCII text', () => {
    const text =
      '\uFEFF#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">仮想マシン_x000A_</S></Objs>';
    expect(isClixml(text)).toBe(true);
    expect(clixmlToText(text)).toBe('仮想マシン');
  });

  it('passes plain stderr through (minus a BOM)', () => {
    expect(isClixml('The command line is too long.\r\n')).toBe(false);
    expect(clixmlToText('\uFEFFThe command line is too long.\r\n')).toBe('The command line is too long.\r\n');
  });

  it('keeps text that precedes the CLIXML block', () => {
    expect(clixmlToText('cmd said this\r\n#< CLIXML\r\n<Objs><S S="Error">boom</S></Objs>')).toBe(
      'cmd said this\nboom',
    );
  });
});

describeWithWinrmFixtures('clixmlToText on a real capture', () => {
  it('decodes the Write-Error stderr of pywinrm_get_ps_output_response.xml', () => {
    const r = parseReceiveResponse(parseEnvelope(readWinrmFixture('pywinrm_get_ps_output_response.xml')));
    const stderr = Buffer.concat(r.streams.filter((s) => s.name === 'stderr').map((s) => s.data)).toString(
      'utf8',
    );
    expect(isClixml(stderr)).toBe(true);
    const text = clixmlToText(stderr);
    expect(text).toContain('Write-Error "Error" : Error');
    expect(text).toContain('+ CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorExcep');
    expect(text).toContain('FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorExceptio');
    expect(text).not.toContain('_x000D_');
    expect(text).not.toContain('<S');
    expect(r.exitCode).toBe(1);
  });
});

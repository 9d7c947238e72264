import { normaliseWindowsPath, requirePathUnderRoots } from '../../../src/operations/path-policy';

const roots = ['D:\\Hyper-V', '\\\\hv-fs01\\vmstore'];

describe('path policy', () => {
  it.each([
    ['D:\\Hyper-V\\vm\\a.vhdx', 'D:\\Hyper-V\\vm\\a.vhdx'],
    ['d:/Hyper-V//vm/./a.vhdx', 'D:\\Hyper-V\\vm\\a.vhdx'],
    ['D:\\hyper-v\\VM\\b.vhdx', 'D:\\hyper-v\\VM\\b.vhdx'],
    ['\\\\hv-fs01\\vmstore\\web\\c.vhdx', '\\\\hv-fs01\\vmstore\\web\\c.vhdx'],
    ['D:\\Hyper-V\\仮想\\ディスク.vhdx', 'D:\\Hyper-V\\仮想\\ディスク.vhdx'],
  ])('accepts %s as %s', (raw, expected) => {
    expect(requirePathUnderRoots('path', raw, roots, 'storage', 'h')).toBe(expected);
  });

  it.each([
    'D:\\Hyper-V',
    'D:\\Hyper-V\\..\\Windows\\a.vhdx',
    'D:\\Hyper-V\\a\\..\\..\\b.vhdx',
    'D:\\Hyper-Vx\\a.vhdx',
    'C:\\a.vhdx',
    '\\\\?\\D:\\Hyper-V\\a.vhdx',
    '\\\\.\\PhysicalDrive0',
    'D:\\Hyper-V\\a.vhdx::$DATA',
    'D:\\Hyper-V\\NUL',
    'D:\\Hyper-V\\con.vhdx',
    'D:\\Hyper-V\\trailing.\\a.vhdx',
    'D:\\Hyper-V\\a\u0000.vhdx',
    'D:\\Hyper-V\\a?.vhdx',
    'relative\\a.vhdx',
    '\\\\hv-fs02\\vmstore\\a.vhdx',
    '',
  ])('refuses %j', (raw) => {
    expect(() => requirePathUnderRoots('path', raw, roots, 'storage', 'hv-tokyo-01')).toThrow(
      expect.objectContaining({
        code: 'HVG_ERR_PATH_NOT_ALLOWED',
        status: 400,
        extensions: expect.objectContaining({ allowedRoots: roots }),
      }),
    );
  });

  it('names the roots in the detail, and says when none are configured', () => {
    expect(() => requirePathUnderRoots('path', 'C:\\x', roots, 'storage', 'h')).toThrow(
      /D:\\Hyper-V, \\\\hv-fs01\\vmstore/,
    );
    expect(() => requirePathUnderRoots('destinationPath', 'E:\\x', [], 'export', 'h')).toThrow(
      /none configured/,
    );
  });

  it('normalises without resolving', () => {
    expect(normaliseWindowsPath('D:\\a\\..\\b')).toEqual({ problem: '".." segments are not allowed' });
  });
});

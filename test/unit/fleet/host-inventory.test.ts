import { validateConfig } from '../../../src/config';
import { createHostInventory, UnknownHostError } from '../../../src/fleet';

it('builds from validated config and looks hosts up by name and group', () => {
  const cfg = validateConfig({
    allowInlineSecrets: true,
    auth: { algorithms: ['HS256'], issuer: 'i', audience: 'a', hmacSecret: 'x'.repeat(32) },
    store: { kind: 'sqlite', path: 'db' },
    audit: { signingKeyFile: 'k' },
    groups: [{ name: 'tokyo' }, { name: 'empty' }],
    hosts: [
      {
        name: 'hv-tokyo-01',
        address: 'a',
        username: 'u',
        password: 'p',
        groups: ['tokyo'],
        maxConcurrent: 2,
      },
      { name: 'lab', address: '127.0.0.1', transport: 'http', username: 'u', password: 'p' },
    ],
  });
  const inv = createHostInventory(cfg.hosts, cfg.groups);
  expect(inv.require('hv-tokyo-01')).toMatchObject({
    port: 5986,
    transport: 'https',
    maxConcurrent: 2,
    maxQueue: 100,
    groups: ['tokyo'],
  });
  expect(inv.get('lab')).toMatchObject({ port: 5985, transport: 'http', maxConcurrent: 4 });
  expect(inv.get('nope')).toBeUndefined();
  expect(() => inv.require('nope')).toThrow(UnknownHostError);
  expect(inv.groups()).toEqual(['empty', 'tokyo']);
  expect(inv.hostsInGroup('tokyo').map((h) => h.name)).toEqual(['hv-tokyo-01']);
  expect(inv.hostsInGroup('empty')).toEqual([]);
  expect(Object.isFrozen(inv.require('lab'))).toBe(true);
  expect(JSON.stringify(inv.list())).not.toMatch(/"password"|"username"/);
});

it('refuses duplicate names', () => {
  expect(() =>
    createHostInventory([
      { name: 'a', address: 'x' },
      { name: 'a', address: 'y' },
    ]),
  ).toThrow(/duplicate host name/);
});

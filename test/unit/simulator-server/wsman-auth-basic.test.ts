import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { createWsmanAuthenticator } from '../../../src/simulator/wsman-auth';

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function request(authorization: string): IncomingMessage {
  return { headers: { authorization }, socket: new Socket() } as unknown as IncomingMessage;
}

describe('Basic authentication with the last accepted header remembered', () => {
  const auth = createWsmanAuthenticator({
    hostName: 'HV01',
    user: 'Administrator',
    password: 'hvgate-sim',
    allowUnencrypted: false,
  });
  const body = { length: 10, contentType: 'application/soap+xml' };

  it('accepts the same header again, each time as a fresh Basic login', () => {
    const good = basic('.\\administrator', 'hvgate-sim');
    for (let i = 0; i < 3; i++) {
      expect(auth.authenticate(request(good), body)).toEqual({
        kind: 'allow',
        user: 'administrator',
        scheme: 'basic',
        fresh: true,
        headers: {},
      });
    }
  });

  it('still refuses other credentials after a success', () => {
    expect(auth.authenticate(request(basic('Administrator', 'hvgate-sim!')), body)).toMatchObject({
      kind: 'deny',
      reason: 'wrong-password',
    });
    expect(auth.authenticate(request(basic('Guest', 'hvgate-sim')), body)).toMatchObject({
      kind: 'deny',
      reason: 'unknown-user',
    });
    expect(auth.authenticate(request(basic('HV01\\Administrator', 'hvgate-sim')), body)).toMatchObject({
      kind: 'allow',
      user: 'Administrator',
    });
    expect(auth.authenticate(request(basic('.\\administrator', 'hvgate-sim')), body)).toMatchObject({
      kind: 'allow',
      user: 'administrator',
    });
  });
});

// HTTP authentication of a simulated WinRM listener, shaped like http.sys + WinRM on a real host:
// Basic per request, Negotiate (NTLM) per TCP connection, one generic 401 that advertises both
// schemes, and the AllowUnencrypted rule for plaintext SOAP from an NTLM-authenticated client.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { NtlmAcceptor, createNtlmAcceptor } from './ntlm-server';

export interface WsmanAuthOptions {
  hostName: string;
  user: string;
  password: string;
  /**
   * WinRM's AllowUnencrypted for Negotiate: false (the Windows default) refuses plaintext SOAP
   * from an NTLM-authenticated client over HTTP with 401. Basic over plain HTTP is served either
   * way because that is the lab setup every Basic client documents (AllowUnencrypted + Basic).
   */
  allowUnencrypted: boolean;
  now?: () => number;
}

export type AuthScheme = 'basic' | 'negotiate';

export type AuthFailureReason =
  | 'no-credentials'
  | 'unsupported-scheme'
  | 'wrong-password'
  | 'unknown-user'
  | 'ntlmv1'
  | 'malformed'
  | 'anonymous'
  | 'no-challenge'
  | 'unencrypted';

export type AuthDecision =
  | {
      kind: 'allow';
      user: string;
      scheme: AuthScheme;
      /** True when this request completed a handshake or carried Basic credentials. */
      fresh: boolean;
      headers: Record<string, string>;
    }
  | { kind: 'challenge'; headers: Record<string, string> }
  | { kind: 'deny'; reason: AuthFailureReason; headers: Record<string, string | string[]> };

export interface WsmanAuthenticator {
  /** Decides one request; the body's length and type matter only for the encryption rule. */
  authenticate(req: IncomingMessage, body: { length: number; contentType: string }): AuthDecision;
}

interface ConnectionAuth {
  acceptor: NtlmAcceptor;
  /** Set once a handshake on this connection succeeded; later requests carry no header. */
  user?: string;
}

const CHALLENGE_HEADERS = { 'WWW-Authenticate': ['Negotiate', 'Basic realm="WSMAN"'] };

function deny(reason: AuthFailureReason, close = true): AuthDecision {
  // Real hosts close the connection after a plain 401; an NTLM context survives nothing after it.
  return {
    kind: 'deny',
    reason,
    headers: close ? { ...CHALLENGE_HEADERS, Connection: 'close' } : { ...CHALLENGE_HEADERS },
  };
}

function ntlmReason(reason: string): AuthFailureReason {
  switch (reason) {
    case 'wrong-password':
    case 'unknown-user':
    case 'ntlmv1':
    case 'anonymous':
      return reason;
    case 'AUTHENTICATE without a preceding challenge':
      return 'no-challenge';
    default:
      return 'malformed';
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function createWsmanAuthenticator(opts: WsmanAuthOptions): WsmanAuthenticator {
  const connections = new WeakMap<Socket, ConnectionAuth>();
  const passwordDigest = digest(opts.password);
  // Clients repeat the same Basic header on every request: remember the last one that passed.
  let lastBasic: { encoded: string; user: string } | undefined;

  function basic(encoded: string): AuthDecision {
    if (lastBasic !== undefined && encoded === lastBasic.encoded) {
      return { kind: 'allow', user: lastBasic.user, scheme: 'basic', fresh: true, headers: {} };
    }
    const decoded = Buffer.from(encoded.trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return deny('malformed');
    const user = decoded.slice(0, colon);
    // Local accounts may be written "name", ".\name" or "HOST\name"; names are case-insensitive.
    const bare = user.slice(user.lastIndexOf('\\') + 1);
    if (!timingSafeEqual(digest(decoded.slice(colon + 1)), passwordDigest)) return deny('wrong-password');
    if (bare.toLowerCase() !== opts.user.toLowerCase()) return deny('unknown-user');
    lastBasic = { encoded, user: bare };
    return { kind: 'allow', user: bare, scheme: 'basic', fresh: true, headers: {} };
  }

  function connectionOf(socket: Socket): ConnectionAuth {
    let state = connections.get(socket);
    if (!state) {
      state = {
        acceptor: createNtlmAcceptor({
          user: opts.user,
          password: opts.password,
          hostName: opts.hostName,
          now: opts.now,
        }),
      };
      connections.set(socket, state);
    }
    return state;
  }

  function encryptionOk(socket: Socket, body: { length: number; contentType: string }): boolean {
    // Empty POSTs only finish authentication (pywinrm and pypsrp send one before encrypting).
    // A multipart/encrypted body is encrypted; the simulator cannot unseal it and answers 415 later.
    return (
      socket instanceof TLSSocket ||
      opts.allowUnencrypted ||
      body.length === 0 ||
      body.contentType.toLowerCase().startsWith('multipart/encrypted')
    );
  }

  return {
    authenticate(req, body) {
      const header = req.headers.authorization;
      const socket = req.socket;
      if (header !== undefined) {
        const m = /^(\S+)\s+(\S+)\s*$/.exec(header);
        const scheme = m?.[1]?.toLowerCase();
        const value = m?.[2] ?? '';
        if (scheme === 'basic') return basic(value);
        // WinRM advertises Negotiate only; curl's `NTLM <type1>` gets the generic 401 back.
        if (scheme !== 'negotiate') return deny(m ? 'unsupported-scheme' : 'malformed');
        if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return deny('malformed');
        const state = connectionOf(socket);
        // A new handshake replaces whatever this connection had authenticated before.
        state.user = undefined;
        const step = state.acceptor.step(Buffer.from(value, 'base64'));
        if (step.kind === 'challenge') {
          return {
            kind: 'challenge',
            headers: { 'WWW-Authenticate': `Negotiate ${step.token.toString('base64')}` },
          };
        }
        if (step.kind === 'rejected') return deny(ntlmReason(step.reason));
        state.user = step.user;
        if (!encryptionOk(socket, body)) return deny('unencrypted', false);
        const headers: Record<string, string> = step.token
          ? { 'WWW-Authenticate': `Negotiate ${step.token.toString('base64')}` }
          : {};
        return { kind: 'allow', user: step.user, scheme: 'negotiate', fresh: true, headers };
      }
      const user = connections.get(socket)?.user;
      if (user === undefined) return deny('no-credentials');
      if (!encryptionOk(socket, body)) return deny('unencrypted', false);
      return { kind: 'allow', user, scheme: 'negotiate', fresh: false, headers: {} };
    },
  };
}

import {
  AUDIT_STAGES,
  AuditEventInput,
  AuditStage,
  REDACTED_FREE_FORM,
  REDACTED_SECRET,
  StoredEvent,
  buildUnsealedEvent,
  paramsSha256,
  redactParams,
  toJsonLine,
  tokenRejectedEvent,
} from '../../../src/audit/audit-event';
import { eventBody, chainHash, GENESIS_HASH } from '../../../src/audit/audit-chain';
import { testWriter, useFreshTestStore } from './audit-test-kit';

const VM = '6f1c2b8e-2f0a-4c56-9a3e-0d1f2e3a4b5c';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdmMtYmlsbGluZyJ9.c2lnbmF0dXJlLXZhbHVlLWhlcmU';

const FULL_ACTOR = {
  sub: 'svc-billing',
  iss: 'https://idp.example',
  clientId: 'billing',
  tokenId: 'jti-1',
  scopes: ['vm:hotplug', 'vm:read'],
};
const TARGET = { host: 'hv-tokyo-01', vmId: VM, vmName: 'web-01' };
const SCRIPT = { id: 'network-adapter.add@1', sha256: 'c'.repeat(64) };

/** Inputs per stage, as the gateway will emit them, and the exact stored event expected. */
const CASES: Record<
  AuditStage,
  {
    input: AuditEventInput;
    expected: Omit<StoredEvent, 'seq' | 'integrity' | 'eventId' | 'time' | 'service'>;
  }
> = {
  requested: {
    input: {
      stage: 'requested',
      operation: 'network-adapter.add',
      requestId: 'req-1',
      jobId: 'job-1',
      actor: FULL_ACTOR,
      source: { ip: '10.2.3.4', userAgent: 'billing/2.1' },
      target: TARGET,
      params: { switchName: 'External', requestId: 'req-1', jobId: 'job-1' },
    },
    expected: {
      schemaVersion: '1.0',
      requestId: 'req-1',
      jobId: 'job-1',
      stage: 'requested',
      operation: 'network-adapter.add',
      actor: FULL_ACTOR,
      source: { ip: '10.2.3.4', userAgent: 'billing/2.1' },
      target: TARGET,
      params: { jobId: 'job-1', requestId: 'req-1', switchName: 'External' },
      paramsSha256: paramsSha256({ switchName: 'External', requestId: 'req-1', jobId: 'job-1' }),
      script: { id: null, sha256: null },
      outcome: { status: 'pending', httpStatus: null, errorCode: null, message: null },
      execution: { queueWaitMs: null, durationMs: null, exitCode: null },
    },
  },
  denied: {
    input: {
      stage: 'denied',
      operation: 'network-adapter.add',
      requestId: 'req-2',
      actor: { sub: 'svc-portal', iss: 'https://idp.example', scopes: ['vm:read'] },
      source: { ip: '10.2.3.5', userAgent: 'portal/1' },
      target: { host: 'hv-tokyo-01', vmName: 'web-01' },
      outcome: { httpStatus: 403, errorCode: 'HVG_ERR_FORBIDDEN', message: 'scope vm:hotplug required' },
    },
    expected: {
      schemaVersion: '1.0',
      requestId: 'req-2',
      jobId: null,
      stage: 'denied',
      operation: 'network-adapter.add',
      actor: {
        sub: 'svc-portal',
        iss: 'https://idp.example',
        clientId: null,
        tokenId: null,
        scopes: ['vm:read'],
      },
      source: { ip: '10.2.3.5', userAgent: 'portal/1' },
      target: { host: 'hv-tokyo-01', vmId: null, vmName: 'web-01' },
      params: null,
      paramsSha256: null,
      script: { id: null, sha256: null },
      outcome: {
        status: 'denied',
        httpStatus: 403,
        errorCode: 'HVG_ERR_FORBIDDEN',
        message: 'scope vm:hotplug required',
      },
      execution: { queueWaitMs: null, durationMs: null, exitCode: null },
    },
  },
  started: {
    input: {
      stage: 'started',
      operation: 'network-adapter.add',
      requestId: 'req-1',
      jobId: 'job-1',
      actor: FULL_ACTOR,
      target: TARGET,
      script: SCRIPT,
      execution: { queueWaitMs: 12.4 },
    },
    expected: {
      schemaVersion: '1.0',
      requestId: 'req-1',
      jobId: 'job-1',
      stage: 'started',
      operation: 'network-adapter.add',
      actor: FULL_ACTOR,
      source: { ip: null, userAgent: null },
      target: TARGET,
      params: null,
      paramsSha256: null,
      script: SCRIPT,
      outcome: { status: 'running', httpStatus: null, errorCode: null, message: null },
      execution: { queueWaitMs: 12, durationMs: null, exitCode: null },
    },
  },
  succeeded: {
    input: {
      stage: 'succeeded',
      operation: 'network-adapter.add',
      requestId: 'req-1',
      jobId: 'job-1',
      actor: FULL_ACTOR,
      target: TARGET,
      script: SCRIPT,
      outcome: { httpStatus: 201 },
      execution: { queueWaitMs: 12, durationMs: 2310, exitCode: 0 },
    },
    expected: {
      schemaVersion: '1.0',
      requestId: 'req-1',
      jobId: 'job-1',
      stage: 'succeeded',
      operation: 'network-adapter.add',
      actor: FULL_ACTOR,
      source: { ip: null, userAgent: null },
      target: TARGET,
      params: null,
      paramsSha256: null,
      script: SCRIPT,
      outcome: { status: 'succeeded', httpStatus: 201, errorCode: null, message: null },
      execution: { queueWaitMs: 12, durationMs: 2310, exitCode: 0 },
    },
  },
  failed: {
    input: {
      stage: 'failed',
      operation: 'network-adapter.add',
      requestId: 'req-1',
      jobId: 'job-1',
      target: TARGET,
      script: SCRIPT,
      outcome: { httpStatus: 409, errorCode: 'HVG_ERR_PRECONDITION', message: 'needs a Generation 2 VM' },
      execution: { queueWaitMs: 3, durationMs: 850, exitCode: 1 },
    },
    expected: {
      schemaVersion: '1.0',
      requestId: 'req-1',
      jobId: 'job-1',
      stage: 'failed',
      operation: 'network-adapter.add',
      actor: { sub: null, iss: null, clientId: null, tokenId: null, scopes: [] },
      source: { ip: null, userAgent: null },
      target: TARGET,
      params: null,
      paramsSha256: null,
      script: SCRIPT,
      outcome: {
        status: 'failed',
        httpStatus: 409,
        errorCode: 'HVG_ERR_PRECONDITION',
        message: 'needs a Generation 2 VM',
      },
      execution: { queueWaitMs: 3, durationMs: 850, exitCode: 1 },
    },
  },
  cancelled: {
    input: {
      stage: 'cancelled',
      operation: 'vhd.resize',
      requestId: 'req-3',
      jobId: 'job-3',
      actor: FULL_ACTOR,
      target: TARGET,
      execution: { queueWaitMs: 40000 },
    },
    expected: {
      schemaVersion: '1.0',
      requestId: 'req-3',
      jobId: 'job-3',
      stage: 'cancelled',
      operation: 'vhd.resize',
      actor: FULL_ACTOR,
      source: { ip: null, userAgent: null },
      target: TARGET,
      params: null,
      paramsSha256: null,
      script: { id: null, sha256: null },
      outcome: { status: 'cancelled', httpStatus: null, errorCode: null, message: null },
      execution: { queueWaitMs: 40000, durationMs: null, exitCode: null },
    },
  },
  interrupted: {
    input: {
      stage: 'interrupted',
      operation: 'vm.migrate',
      jobId: 'job-4',
      target: TARGET,
      script: { id: 'vm.migrate@1', sha256: 'd'.repeat(64) },
      outcome: { errorCode: 'HVG_ERR_INTERRUPTED', message: 'replica stopped while the job was running' },
    },
    expected: {
      schemaVersion: '1.0',
      requestId: null,
      jobId: 'job-4',
      stage: 'interrupted',
      operation: 'vm.migrate',
      actor: { sub: null, iss: null, clientId: null, tokenId: null, scopes: [] },
      source: { ip: null, userAgent: null },
      target: TARGET,
      params: null,
      paramsSha256: null,
      script: { id: 'vm.migrate@1', sha256: 'd'.repeat(64) },
      outcome: {
        status: 'unknown',
        httpStatus: null,
        errorCode: 'HVG_ERR_INTERRUPTED',
        message: 'replica stopped while the job was running',
      },
      execution: { queueWaitMs: null, durationMs: null, exitCode: null },
    },
  },
};

describe('audit event shape', () => {
  const testStore = useFreshTestStore('ev');

  it('covers every stage', () => {
    expect(Object.keys(CASES).sort()).toEqual([...AUDIT_STAGES].sort());
  });

  it.each(AUDIT_STAGES)('%s: golden event, field by field', async (stage) => {
    const { writer } = testWriter(testStore().store);
    const stored = await writer.append(CASES[stage].input);
    await writer.close();
    const { expected } = CASES[stage];
    expect(Object.keys(stored).sort()).toEqual(
      [
        'schemaVersion',
        'eventId',
        'seq',
        'time',
        'requestId',
        'jobId',
        'stage',
        'operation',
        'actor',
        'source',
        'target',
        'params',
        'paramsSha256',
        'script',
        'outcome',
        'execution',
        'service',
        'integrity',
      ].sort(),
    );
    expect(stored.schemaVersion).toBe(expected.schemaVersion);
    expect(stored.eventId).toBe('00000000-0000-4000-8000-000000000001');
    expect(stored.seq).toBe(1);
    expect(stored.time).toBe('2025-06-01T10:00:00.000Z');
    expect(stored.requestId).toBe(expected.requestId);
    expect(stored.jobId).toBe(expected.jobId);
    expect(stored.stage).toBe(stage);
    expect(stored.operation).toBe(expected.operation);
    expect(stored.actor).toEqual(expected.actor);
    expect(stored.source).toEqual(expected.source);
    expect(stored.target).toEqual(expected.target);
    expect(stored.params).toEqual(expected.params);
    expect(stored.paramsSha256).toBe(expected.paramsSha256);
    expect(stored.script).toEqual(expected.script);
    expect(stored.outcome).toEqual(expected.outcome);
    expect(stored.execution).toEqual(expected.execution);
    expect(stored.service).toEqual({ version: '0.1.0', instance: 'test-1' });
    expect(stored.integrity).toEqual({
      prevHash: GENESIS_HASH,
      hash: chainHash(GENESIS_HASH, eventBody(stored)),
    });
    // What the store holds is the same event.
    const row = (await testStore().store.readEvents(0, 1, 1))[0]!;
    expect(row.body).toBe(eventBody(stored));
    expect(row.hash).toBe(stored.integrity.hash);
  });

  it('records a token rejection as denied with its reason, and nothing of the token', async () => {
    const { writer } = testWriter(testStore().store);
    const stored = await writer.append(
      tokenRejectedEvent({
        errorCode: 'HVG_ERR_TOKEN_EXPIRED',
        reason: `token expired (${TOKEN})`,
        requestId: 'req-9',
        source: { ip: '10.9.9.9', userAgent: `curl/8 Authorization: Bearer ${TOKEN}` },
      }),
    );
    await writer.close();
    expect(stored).toMatchObject({
      stage: 'denied',
      operation: 'auth.token',
      requestId: 'req-9',
      outcome: { status: 'denied', httpStatus: 401, errorCode: 'HVG_ERR_TOKEN_EXPIRED' },
      actor: { sub: null, tokenId: null },
    });
    const text = JSON.stringify(stored);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('eyJ');
    expect(stored.outcome.message).toBe(`token expired (${REDACTED_SECRET})`);
  });

  it('has no place for tokens, Authorization headers or credentials: unknown fields are refused', async () => {
    const { writer } = testWriter(testStore().store);
    for (const extra of [
      { token: TOKEN },
      { authorization: `Bearer ${TOKEN}` },
      { credentials: { username: 'u', password: 'p' } },
    ]) {
      await expect(writer.append({ stage: 'requested', ...extra } as AuditEventInput)).rejects.toMatchObject({
        code: 'HVG_ERR_AUDIT_INVALID_EVENT',
      });
    }
    await expect(
      writer.append({ stage: 'requested', actor: { sub: 's', token: TOKEN } } as unknown as AuditEventInput),
    ).rejects.toMatchObject({ code: 'HVG_ERR_AUDIT_INVALID_EVENT' });
    await writer.close();
    expect(await testStore().store.head()).toBeNull();
  });

  it('keeps hostile values (newlines, CR, U+2028/2029, fake JSON) inside one record and one line', async () => {
    const hostile = 'web-01\n{"stage":"succeeded","seq":999}\r\n\u2028\u2029"}';
    const { writer } = testWriter(testStore().store);
    const stored = await writer.append({
      stage: 'requested',
      operation: 'memory.set',
      target: { vmName: hostile },
      params: { note: hostile },
    });
    await writer.close();
    expect(stored.target.vmName).toBe(hostile);
    const line = toJsonLine(stored);
    expect(line.split(/\r\n|\r|\n|\u2028|\u2029/)).toHaveLength(1);
    expect(JSON.parse(line)).toEqual(stored);
    expect((await testStore().store.head())?.seq).toBe(1);
  });

  it('bounds caller-controlled text and replaces lone surrogates instead of failing the record', async () => {
    const { writer } = testWriter(testStore().store);
    const stored = await writer.append({
      stage: 'denied',
      operation: 'auth.token',
      outcome: { errorCode: 'HVG_ERR_TOKEN_INVALID' },
      source: { userAgent: 'x'.repeat(5000) },
      target: { vmName: 'bad\ud800name' },
    });
    await writer.close();
    expect(stored.source.userAgent).toHaveLength(512);
    expect(stored.target.vmName).toBe('bad\ufffdname');
  });
});

describe('redactParams and paramsSha256', () => {
  it('replaces secrets (by spec path, wildcard or key name) and free-form blobs with markers', () => {
    const params = {
      name: 'nic-2',
      adminPassword: 'hunter2',
      credential: { user: 'u', pass: 'p' },
      disks: [
        { path: 'D:\\vhd\\a.vhdx', encryptionKey: 'k1' },
        { path: 'D:\\vhd\\b.vhdx', encryptionKey: 'k2' },
      ],
      notes: 'short note',
      script: 'x'.repeat(600),
      header: `Bearer ${'a'.repeat(40)}`,
      embedded: `see ${TOKEN}`,
      count: 3,
      enabled: true,
      nothing: null,
    };
    const redacted = redactParams(params, { secrets: ['disks.*.encryptionKey'], freeForm: ['notes'] });
    expect(redacted).toEqual({
      name: 'nic-2',
      adminPassword: REDACTED_SECRET,
      credential: REDACTED_SECRET,
      disks: [
        { path: 'D:\\vhd\\a.vhdx', encryptionKey: REDACTED_SECRET },
        { path: 'D:\\vhd\\b.vhdx', encryptionKey: REDACTED_SECRET },
      ],
      notes: REDACTED_FREE_FORM,
      script: REDACTED_FREE_FORM,
      header: REDACTED_SECRET,
      embedded: REDACTED_SECRET,
      count: 3,
      enabled: true,
      nothing: null,
    });
    // The caller's object is untouched.
    expect(params.adminPassword).toBe('hunter2');
    expect(JSON.stringify(redacted)).not.toMatch(/hunter2|k1|k2|eyJ/);
  });

  it('honours maxStringLength', () => {
    expect(redactParams({ a: 'abcdef' }, { maxStringLength: 5 })).toEqual({ a: REDACTED_FREE_FORM });
    expect(redactParams({ a: 'abcde' }, { maxStringLength: 5 })).toEqual({ a: 'abcde' });
  });

  it('paramsSha256 is stable across key order and covers the unredacted values', () => {
    const a = paramsSha256({ x: 1, y: { b: [1, 2], a: 'é' } });
    const b = paramsSha256({ y: { a: 'é', b: [1, 2] }, x: 1 });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    // Frozen: SHA-256 of {"x":1,"y":{"a":"é","b":[1,2]}} in UTF-8.
    expect(a).toBe('ed93a699fa386cb366dfd0307be1262cad664e98b3aa0434cf981b8e16ec82b8');
    expect(paramsSha256({ x: 2, y: { b: [1, 2], a: 'é' } })).not.toBe(a);
    // Two requests whose redacted params look the same still hash differently.
    const p1 = { password: 'one', vm: 'a' };
    const p2 = { password: 'two', vm: 'a' };
    expect(redactParams(p1)).toEqual(redactParams(p2));
    expect(paramsSha256(p1)).not.toBe(paramsSha256(p2));
  });
});

describe('hostile params', () => {
  it('refuses params too deep to canonicalise or too large, with a typed error', () => {
    const ctx = { eventId: 'e', time: '2025-06-01T00:00:00.000Z', service: { version: 'v', instance: 'i' } };
    let deep: Record<string, unknown> = { v: 1 };
    for (let i = 0; i < 5000; i++) deep = { d: deep };
    expect(() => buildUnsealedEvent({ stage: 'requested', params: deep as never }, ctx)).toThrow(
      expect.objectContaining({ code: 'HVG_ERR_AUDIT_INVALID_EVENT' }),
    );
    const big = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, 'x'.repeat(100)]));
    expect(() => buildUnsealedEvent({ stage: 'requested', params: big }, ctx)).toThrow(/exceed/);
  });
});

describe('checking an event input', () => {
  const ctx = { eventId: 'e', time: '2025-06-01T00:00:00.000Z', service: { version: 'v', instance: 'i' } };
  const refusal = (input: unknown): string[] => {
    try {
      buildUnsealedEvent(input as AuditEventInput, ctx);
    } catch (err) {
      expect(err).toMatchObject({ code: 'HVG_ERR_AUDIT_INVALID_EVENT' });
      return [...(err as { issues: string[] }).issues];
    }
    throw new Error('accepted');
  };

  it('names every field that breaks a rule, with its path, in one refusal', () => {
    expect(
      refusal({
        stage: 'requested',
        operation: 'rm -rf',
        requestId: 42,
        actor: { scopes: 'vm:read' },
        script: { id: '', sha256: 'ABC' },
        outcome: { httpStatus: 99, errorCode: 'E_FAIL' },
        execution: { queueWaitMs: -1, durationMs: Number.NaN, exitCode: 2 ** 33 },
      }),
    ).toEqual([
      'operation: operation must be a catalog name',
      'actor.scopes: expected an array of strings',
      'script.id: expected a string of 1 to 128 characters',
      'script.sha256: expected 64 lowercase hex digits',
      'outcome.errorCode: expected an HVG_ERR_* code',
      'requestId: expected a string',
      'outcome.httpStatus: expected an integer from 100 to 599',
      'execution.queueWaitMs: expected a finite number of milliseconds, not negative',
      'execution.durationMs: expected a finite number of milliseconds, not negative',
      `execution.exitCode: expected an integer from ${-(2 ** 31)} to ${2 ** 32 - 1}`,
    ]);
  });

  it('refuses what is not an event: no object, an unknown stage, blocks of the wrong shape', () => {
    expect(() => buildUnsealedEvent(null as never, ctx)).toThrow(/expected an object/);
    expect(refusal({ stage: 'deleted' })).toEqual([
      expect.stringMatching(/^stage: expected one of requested\|/),
    ]);
    expect(refusal({ stage: 'requested', target: ['web-01'], source: 'x' })).toEqual([
      'source: expected an object',
      'target: expected an object',
    ]);
    expect(refusal({ stage: 'requested', redaction: { secrets: [1], maxStringLength: 0 } })).toEqual([
      'redaction.secrets: expected an array of strings',
      'redaction.maxStringLength: expected a positive integer',
    ]);
  });

  it('takes params only as plain JSON: no NaN, no class instances, not nested without end', () => {
    expect(refusal({ stage: 'requested', params: { a: [1, Number.POSITIVE_INFINITY] } })).toEqual([
      'params.a.1: expected a finite number',
    ]);
    expect(refusal({ stage: 'requested', params: { when: new Date(0) } })).toEqual([
      'params.when: expected a JSON value',
    ]);
    expect(refusal({ stage: 'requested', params: ['x'] })).toEqual(['params: expected an object']);
    let deep: Record<string, unknown> = { v: 1 };
    for (let i = 0; i < 300; i++) deep = { d: deep };
    expect(refusal({ stage: 'requested', params: deep })).toEqual([
      expect.stringMatching(/params nest deeper than 200$/),
    ]);
  });

  it('fills what was left out with nulls, rounds times and keeps at most 64 scopes of 128 characters', () => {
    const e = buildUnsealedEvent(
      {
        stage: 'started',
        actor: { sub: 'svc', scopes: Array.from({ length: 70 }, (_, i) => `${i}`.padEnd(200, 's')) },
        execution: { queueWaitMs: 1.6 },
        script: null,
      },
      ctx,
    );
    expect(e).toMatchObject({
      operation: null,
      requestId: null,
      actor: { sub: 'svc', iss: null, clientId: null, tokenId: null },
      source: { ip: null, userAgent: null },
      target: { host: null, vmId: null, vmName: null },
      params: null,
      paramsSha256: null,
      script: { id: null, sha256: null },
      outcome: { status: 'running', httpStatus: null, errorCode: null, message: null },
      execution: { queueWaitMs: 2, durationMs: null, exitCode: null },
    });
    expect(e.actor.scopes).toHaveLength(64);
    expect(e.actor.scopes[0]).toHaveLength(128);
    expect(e.actor.scopes[0]!.endsWith('…')).toBe(true);
  });
});

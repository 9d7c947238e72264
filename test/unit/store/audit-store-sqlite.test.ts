import path from 'node:path';
import { createSqliteAuditStore } from '../../../src/store/sqlite-audit-store';
import { openSqliteDatabase } from '../../../src/store/sqlite-database';
import { makeTempDir } from '../audit/audit-test-kit';
import { describeAuditStoreConformance } from './audit-store-conformance';

const tmp = makeTempDir('hvgate-store-');
afterAll(() => tmp.cleanup());
let n = 0;

describeAuditStoreConformance('SQLite', async () => {
  const file = path.join(tmp.dir, `audit-${++n}.db`);
  const db = openSqliteDatabase({ path: file });
  const peers: ReturnType<typeof openSqliteDatabase>[] = [];
  return {
    store: createSqliteAuditStore(db),
    async openPeer() {
      const peerDb = openSqliteDatabase({ path: file });
      peers.push(peerDb);
      return createSqliteAuditStore(peerDb);
    },
    async close() {
      for (const p of peers) if (p.open) p.close();
      if (db.open) db.close();
    },
  };
});

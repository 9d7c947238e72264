import path from 'node:path';
import { openSqliteDatabase } from '../../../src/store/sqlite-database';
import { createSqliteJobStore } from '../../../src/store/sqlite-job-store';
import { makeTempDir } from '../audit/audit-test-kit';
import { describeJobStoreConformance } from './job-store-conformance';

const tmp = makeTempDir('hvgate-jobstore-');
afterAll(() => tmp.cleanup());
let n = 0;

describeJobStoreConformance('SQLite', async () => {
  const file = path.join(tmp.dir, `jobs-${++n}.db`);
  const db = openSqliteDatabase({ path: file });
  const peers: ReturnType<typeof openSqliteDatabase>[] = [];
  return {
    store: createSqliteJobStore(db),
    async openPeer() {
      const peerDb = openSqliteDatabase({ path: file });
      peers.push(peerDb);
      return createSqliteJobStore(peerDb);
    },
    async close() {
      for (const p of peers) if (p.open) p.close();
      if (db.open) db.close();
    },
  };
});

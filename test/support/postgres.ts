/**
 * PostgreSQL for the store tests: the server at DATABASE_URL (default the machine's, on
 * 127.0.0.1:5432, database `test`; CI starts it, see .ci/run), a schema per test so that tests
 * never see each other's rows, and the admin connection that drops those schemas afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface PostgresAdmin {
  pool: pg.Pool;
  /** A schema name no other test uses, dropped by `cleanUp()`. */
  newSchema(): string;
  /** Drops every schema `newSchema()` handed out, and ends the pool. */
  cleanUp(): Promise<void>;
}

export function postgresAdmin(): PostgresAdmin {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  pool.on('error', () => undefined);
  const schemas: string[] = [];
  return {
    pool,
    newSchema() {
      const schema = `rjwt_test_${randomBytes(6).toString('hex')}`;
      schemas.push(schema);
      return schema;
    },
    async cleanUp() {
      for (const schema of schemas.splice(0)) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}

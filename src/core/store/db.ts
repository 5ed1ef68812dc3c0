export type QueryOptions = {
  /** PostgreSQL keeps the statement prepared per connection, so a hot query is planned once, not per call; PGlite ignores it. */
  name: string;
  /** json and jsonb values come as their text, unparsed: for JSON that is passed on as it is. */
  jsonAsText?: boolean;
};

/** The SQL surface the store needs; both PostgreSQL (pg) and embedded PGlite provide it. */
export type Sql = {
  query<Row = Record<string, unknown>>(text: string, params?: unknown[], options?: QueryOptions): Promise<{ rows: Row[] }>;
};

export type Db = Sql & {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` in one transaction (READ COMMITTED); rolls back if it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  /** Runs several statements in one call (migrations). */
  exec(text: string): Promise<void>;
  close(): Promise<void>;
};

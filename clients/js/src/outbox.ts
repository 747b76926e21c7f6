// Sends not yet acknowledged. Every send gets its message id when it is created and keeps it until the
// server's `ack`: after a reconnect (or a page reload, with a persistent store) it is sent again with the
// same id, and the server stores it once and acks every copy with the same sequence (docs/protocol.md
// section 8, "Send, ack, deliver"). Storage is pluggable: IndexedDB in browsers, memory elsewhere.

/** One unacknowledged send. */
export interface OutboxEntry {
  /** 32 hex digits; the server de-duplicates on it. */
  message_id: string;
  /** Target conversation ("0" opens a new one; the ack names it). */
  conversation_id: string;
  text: string;
  /** Unix ms when the app sent it (orders the outbox). */
  created_at_ms: number;
}

/** Where the outbox lives. Every method may be asynchronous; the client awaits them in order. */
export interface OutboxStorage {
  /** Every stored entry (any order). */
  load(): Promise<OutboxEntry[]>;
  put(entry: OutboxEntry): Promise<void>;
  delete(messageId: string): Promise<void>;
}

/** Keeps the outbox in memory: survives reconnects, not a process restart. */
export class MemoryOutboxStorage implements OutboxStorage {
  private entries = new Map<string, OutboxEntry>();

  async load(): Promise<OutboxEntry[]> {
    return [...this.entries.values()];
  }

  async put(entry: OutboxEntry): Promise<void> {
    this.entries.set(entry.message_id, { ...entry });
  }

  async delete(messageId: string): Promise<void> {
    this.entries.delete(messageId);
  }
}

/**
 * Keeps the outbox in an IndexedDB object store, so sends survive a page reload. Use one database name per
 * signed-in user (message ids are unique per user, and another user's sends must not be re-sent).
 */
export class IndexedDbOutboxStorage implements OutboxStorage {
  private database: Promise<IDBDatabase> | undefined;

  constructor(
    private readonly name: string = 'switchboard-outbox',
    private readonly factory: IDBFactory = globalThis.indexedDB,
  ) {}

  private open(): Promise<IDBDatabase> {
    this.database ??= new Promise((resolve, reject) => {
      const request = this.factory.open(this.name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore('outbox', { keyPath: 'message_id' });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return this.database;
  }

  private async run<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const database = await this.open();
    return new Promise((resolve, reject) => {
      const request = act(database.transaction('outbox', mode).objectStore('outbox'));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  load(): Promise<OutboxEntry[]> {
    return this.run('readonly', (store) => store.getAll() as IDBRequest<OutboxEntry[]>);
  }

  async put(entry: OutboxEntry): Promise<void> {
    await this.run('readwrite', (store) => store.put(entry));
  }

  async delete(messageId: string): Promise<void> {
    await this.run('readwrite', (store) => store.delete(messageId));
  }
}

/** The default store: IndexedDB where it exists (browsers), memory otherwise (Node). */
export function defaultOutboxStorage(name?: string): OutboxStorage {
  return typeof globalThis.indexedDB === 'object' && globalThis.indexedDB
    ? new IndexedDbOutboxStorage(name)
    : new MemoryOutboxStorage();
}

/** Entries waiting for their ack, in creation order, mirrored to a storage. */
export class Outbox {
  private entries = new Map<string, OutboxEntry>();
  private loaded: Promise<void> | undefined;

  constructor(readonly storage: OutboxStorage) {}

  /** Loads the stored entries (once). */
  load(): Promise<void> {
    this.loaded ??= this.storage.load().then((stored) => {
      stored.sort((a, b) => a.created_at_ms - b.created_at_ms || (a.message_id < b.message_id ? -1 : 1));
      for (const entry of stored) if (!this.entries.has(entry.message_id)) this.entries.set(entry.message_id, entry);
    });
    return this.loaded;
  }

  async add(entry: OutboxEntry): Promise<void> {
    this.entries.set(entry.message_id, entry);
    await this.storage.put(entry);
  }

  /** Removes an acknowledged entry; returns it, or undefined if it was not waiting (a repeated ack). */
  take(messageId: string): OutboxEntry | undefined {
    const entry = this.entries.get(messageId);
    if (!entry) return undefined;
    this.entries.delete(messageId);
    void this.storage.delete(messageId).catch(() => {});
    return entry;
  }

  get(messageId: string): OutboxEntry | undefined {
    return this.entries.get(messageId);
  }

  /** Waiting entries, oldest first. */
  pending(): OutboxEntry[] {
    return [...this.entries.values()];
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * `TicketKeyRing`: session ticket keys the application supplies and rotates,
 * so that several server processes (or machines) resume each other's
 * tickets. The newest key encrypts new tickets; older keys still decrypt
 * until their grace period ends, then are dropped. Keys are nginx's
 * `ssl_session_ticket_key` files: 80 bytes, key name (16), HMAC-SHA256
 * secret (32), AES-256 key (32).
 *
 * @module
 */

/** Bytes in a key name, `TLSEXT_KEYNAME_LENGTH`. */
const NAME_LENGTH = 16;
/** Bytes in the HMAC-SHA256 secret. */
const HMAC_LENGTH = 32;
/** Bytes in the AES-256-CBC key. */
const AES_LENGTH = 32;
/** Bytes in one key as nginx and `SSL_CTX_set_tlsext_ticket_keys` lay it out. */
const KEY_LENGTH = NAME_LENGTH + HMAC_LENGTH + AES_LENGTH;
/** OpenSSL's default session lifetime (7200 s): a ticket issued just before a rotation stays usable. */
const DEFAULT_GRACE_MS = 7_200_000;

/**
 * One session ticket key in parts.
 *
 * @example
 * ```ts
 * import type { TicketKey } from "@denossl/denossl";
 * const key: TicketKey = {
 *   name: crypto.getRandomValues(new Uint8Array(16)),
 *   hmacKey: crypto.getRandomValues(new Uint8Array(32)),
 *   aesKey: crypto.getRandomValues(new Uint8Array(32)),
 * };
 * ```
 */
export interface TicketKey {
  /** 16 bytes that name the key in every ticket it encrypts; not secret. */
  name: Uint8Array;
  /** 32 bytes: the HMAC-SHA256 secret. */
  hmacKey: Uint8Array;
  /** 32 bytes: the AES-256-CBC key. */
  aesKey: Uint8Array;
}

/**
 * Options of {@link TicketKeyRing}.
 *
 * @example
 * ```ts
 * import type { TicketKeyRingOptions } from "@denossl/denossl";
 * const options: TicketKeyRingOptions = { gracePeriod: 60_000 };
 * ```
 */
export interface TicketKeyRingOptions {
  /**
   * Milliseconds an older key keeps decrypting after a newer one took over;
   * 0 drops it at once. @default {7200000} (2 h, OpenSSL's session lifetime)
   */
  gracePeriod?: number;
  /**
   * Keys to start with, the encrypting one first, as nginx reads its list of
   * `ssl_session_ticket_key` files; the others decrypt for the grace period.
   */
  keys?: (Uint8Array | TicketKey)[];
}

interface Entry {
  key: TicketKey;
  hex: string;
  /** When a newer key took over (ms since the epoch), null for the encrypting key. */
  retiredAt: number | null;
}

function hexOf(bytes: Uint8Array): string {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}

function part(value: unknown, length: number, what: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new RangeError(`Ticket key ${what} must be a Uint8Array of ${length} bytes`);
  }
  return value.slice();
}

function keyOf(input: Uint8Array | TicketKey): TicketKey {
  if (input instanceof Uint8Array) {
    if (input.length !== KEY_LENGTH) {
      throw new RangeError(
        `A ticket key is ${KEY_LENGTH} bytes (name 16, HMAC secret 32, AES key 32, as nginx's ssl_session_ticket_key file): got ${input.length}`,
      );
    }
    return {
      name: input.slice(0, NAME_LENGTH),
      hmacKey: input.slice(NAME_LENGTH, NAME_LENGTH + HMAC_LENGTH),
      aesKey: input.slice(NAME_LENGTH + HMAC_LENGTH),
    };
  }
  if (typeof input !== "object" || input === null) {
    throw new TypeError("A ticket key is 80 bytes or { name, hmacKey, aesKey }");
  }
  return {
    name: part(input.name, NAME_LENGTH, "name"),
    hmacKey: part(input.hmacKey, HMAC_LENGTH, "hmacKey"),
    aesKey: part(input.aesKey, AES_LENGTH, "aesKey"),
  };
}

/**
 * Session ticket keys for servers, rotated by the application: the newest key
 * encrypts the tickets a server issues, older keys still decrypt tickets
 * presented to it until `gracePeriod` after they were replaced, then they are
 * dropped and their tickets get a full handshake (never an error). Give every
 * server process the same keys (nginx's 80-byte `ssl_session_ticket_key`
 * files, `openssl rand 80` makes one) and clients resume on any of them.
 *
 * Install it with `listenTls({ ticketKeys })` or `Context.setTicketKeyRing`;
 * `rotate()` and `add()` act on the next handshake, while serving.
 *
 * @example Two servers share a ring and resume each other's tickets
 * ```ts
 * import { TicketKeyRing } from "@denossl/denossl";
 * import assert from "node:assert/strict";
 * const shared = TicketKeyRing.generateKey(); // write it to a file every server reads
 * const a = new TicketKeyRing({ keys: [shared] });
 * const b = new TicketKeyRing({ keys: [shared], gracePeriod: 0 });
 * assert.deepEqual(a.names, b.names);
 * b.rotate(); // a new key encrypts; with no grace period the old one is gone
 * assert.equal(b.size, 1);
 * assert.notDeepEqual(a.names, b.names);
 * ```
 */
export class TicketKeyRing {
  readonly #grace: number;
  #entries: Entry[] = [];

  /**
   * Makes a new key: 80 random bytes in nginx's layout.
   *
   * @returns The key; keep it secret, share it with the servers that should resume each other's tickets.
   * @example
   * ```ts
   * import { TicketKeyRing } from "@denossl/denossl";
   * const key = TicketKeyRing.generateKey();
   * console.log(key.length); // 80
   * ```
   */
  static generateKey(): Uint8Array<ArrayBuffer> {
    return crypto.getRandomValues(new Uint8Array(KEY_LENGTH));
  }

  /**
   * Makes a ring.
   *
   * @param options The grace period and the first keys.
   * @throws {RangeError} When `gracePeriod` is negative or a key has the wrong length.
   */
  constructor(options: TicketKeyRingOptions = {}) {
    const grace = options.gracePeriod ?? DEFAULT_GRACE_MS;
    if (typeof grace !== "number" || !(grace >= 0) || grace === Infinity) {
      throw new RangeError(`gracePeriod must be a finite number of ms, 0 or more: got ${grace}`);
    }
    this.#grace = grace;
    for (const key of options.keys ?? []) this.add(key);
  }

  /** Milliseconds an older key keeps decrypting after a newer one took over. */
  get gracePeriod(): number {
    return this.#grace;
  }

  /** How many keys still decrypt, the encrypting one included. */
  get size(): number {
    return this.#live().length;
  }

  /** The names of the keys that still decrypt, in hex, the encrypting key first. */
  get names(): string[] {
    return this.#live().map((e) => e.hex);
  }

  /**
   * Adds a key. Into an empty ring it becomes the encrypting key; otherwise
   * it only decrypts, for the grace period from now (nginx's second and
   * later `ssl_session_ticket_key` files). A key whose name is already in
   * the ring replaces it.
   *
   * @param key 80 bytes, or its parts.
   * @throws {RangeError} When a part has the wrong length.
   */
  add(key: Uint8Array | TicketKey): void {
    const k = keyOf(key);
    const hex = hexOf(k.name);
    const live = this.#live().filter((e) => e.hex !== hex);
    const entry: Entry = { key: k, hex, retiredAt: live.length ? Date.now() : null };
    this.#entries = live.length ? [live[0]!, entry, ...live.slice(1)] : [entry];
  }

  /**
   * Makes `key` (a new random one when omitted) the encrypting key; the one
   * it replaces decrypts for the grace period from now.
   *
   * @param key 80 bytes or its parts; by default {@link TicketKeyRing.generateKey}.
   * @returns The new key's 80 bytes, to hand to the other servers.
   * @throws {RangeError} When a part has the wrong length.
   */
  rotate(key: Uint8Array | TicketKey = TicketKeyRing.generateKey()): Uint8Array<ArrayBuffer> {
    const k = keyOf(key);
    const hex = hexOf(k.name);
    const now = Date.now();
    const older = this.#live().filter((e) => e.hex !== hex);
    for (const e of older) e.retiredAt ??= now;
    this.#entries = [{ key: k, hex, retiredAt: null }, ...older];
    const out = new Uint8Array(KEY_LENGTH);
    out.set(k.name, 0);
    out.set(k.hmacKey, NAME_LENGTH);
    out.set(k.aesKey, NAME_LENGTH + HMAC_LENGTH);
    return out;
  }

  /**
   * The key that encrypts new tickets, called by OpenSSL's ticket callback.
   *
   * @returns The key, or null when the ring is empty (no ticket is issued).
   */
  current(): TicketKey | null {
    return this.#live()[0]?.key ?? null;
  }

  /**
   * The key a presented ticket names, called by OpenSSL's ticket callback.
   *
   * @param name The ticket's 16-byte key name.
   * @returns The key and whether it is the encrypting one (an older key's
   *   ticket is decrypted and replaced by a new one), or null: a full handshake.
   */
  find(name: Uint8Array): { key: TicketKey; current: boolean } | null {
    const hex = hexOf(name);
    const live = this.#live();
    const i = live.findIndex((e) => e.hex === hex);
    return i < 0 ? null : { key: live[i]!.key, current: i === 0 };
  }

  /** The entries still in their grace period; the expired ones are dropped here. */
  #live(): Entry[] {
    const now = Date.now();
    const kept = this.#entries.filter((e) =>
      e.retiredAt === null || now - e.retiredAt < this.#grace
    );
    if (kept.length !== this.#entries.length) this.#entries = kept;
    return kept;
  }
}

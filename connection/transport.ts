/**
 * Transports: what a `Connection` reads ciphertext from and writes it to.
 * Every accepted shape is normalized into one {@link Pipe}. Internal, but the
 * shapes are public: see {@link Transport}.
 *
 * @module
 */

import { SysCallError } from "../errors/ssl_error.ts";
import type { Connection, ConnectionBase } from "./connection.ts";
import type { Context } from "./context.ts";
import { ERRNO } from "../ffi/sys.ts";

/**
 * Anything with Deno's `read`/`write` pair: a `Deno.Conn` (TCP, Unix), a
 * `Deno.TlsConn` (TLS inside TLS), or your own object.
 *
 * @example A test double
 * ```ts
 * import type { StreamTransport } from "@denossl/denossl";
 * const transport: StreamTransport = {
 *   read: () => Promise.resolve(null),
 *   write: (p) => Promise.resolve(p.length),
 * };
 * ```
 */
export interface StreamTransport {
  /** Reads into `p`; resolves to the count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes from `p`; resolves to the count written (possibly partial). */
  write(p: Uint8Array): Promise<number>;
  /** Optional: closes the transport. */
  close?(): void;
  /** Optional: half-closes the transport for writing. */
  closeWrite?(): Promise<void>;
}

/**
 * Separate objects for each direction, with `read` and `write` methods.
 */
export interface SplitTransport {
  /** Where ciphertext comes from. */
  reader: { read(p: Uint8Array): Promise<number | null>; close?(): void };
  /** Where ciphertext goes. */
  writer: { write(p: Uint8Array): Promise<number>; close?(): void };
}

/**
 * Separate web streams for each direction (a child process's
 * `stdout`/`stdin`, a `TransformStream` pair, ...).
 */
export interface StreamPairTransport {
  /** Where ciphertext comes from. */
  readable: ReadableStream<Uint8Array>;
  /** Where ciphertext goes. */
  writable: WritableStream<Uint8Array>;
}

/**
 * A socket descriptor for native mode: OpenSSL reads and writes it itself
 * (`SSL_set_fd` on a duplicate). The object's `close()`, when it has one, is
 * called when the connection closes; the duplicate is always closed.
 */
export type FdTransport =
  | { readonly fd: number; close?(): void }
  | { fileno(): number; close?(): void };

/**
 * Every transport shape a `Connection` accepts: `null` for memory BIOs, a
 * stream, split or stream-pair transport, or a descriptor (native mode).
 */
export type Transport =
  | null
  | StreamTransport
  | SplitTransport
  | StreamPairTransport
  | FdTransport;

/** The one shape the engine drives. */
export interface Pipe {
  read(p: Uint8Array): Promise<number | null>;
  /** Writes every byte. */
  writeAll(p: Uint8Array): Promise<void>;
  closeWrite(): Promise<void>;
  close(): void;
  /** The objects passthrough lookups go to, in order. */
  targets: object[];
  /**
   * Whether `read` may be handed the caller's buffer: the transport's
   * `close()` settles a pending read, so once that read settles nothing
   * writes into the buffer any more (Deno's sockets, web streams). A
   * transport that may keep writing into a buffer after close reads into
   * the connection's own buffer instead.
   */
  readonly lends: boolean;
}

/**
 * Whether `o` is one of Deno's own connections (`Deno.TcpConn`,
 * `Deno.UnixConn`, `Deno.TlsConn`: subclasses of Deno's internal `Conn`)
 * with its own `read` and `close`, whose `close()` cancels a pending read:
 * the read rejects, and its buffer is not written afterwards.
 */
function isDenoConn(o: object): boolean {
  try {
    if (Object.hasOwn(o, "read") || Object.hasOwn(o, "close")) return false;
    for (let p = Object.getPrototypeOf(o); p !== null; p = Object.getPrototypeOf(p)) {
      if (p === Object.prototype) return false;
      if (p.constructor?.name === "Conn") return true;
    }
  } catch {
    // A Proxy or an accessor that throws: not Deno's own connection.
  }
  return false;
}

/**
 * How long a closed connection's queued writes (its close_notify among them)
 * may take to reach the transport before the transport is closed anyway.
 * Deno's own `close()` drops a pending write at once; waiting for ever would
 * let a peer that stops reading keep the socket open (and, for a read that
 * lent its buffer, keep that read pending) as long as it likes.
 */
export const CLOSE_LINGER_MS = 2000;

/**
 * Closes `pipe` once `queued` (the connection's pending writes) settles, or
 * after {@link CLOSE_LINGER_MS}, whichever comes first; the writes still
 * pending then fail as the transport fails them.
 *
 * @param pipe The transport.
 * @param queued The writes to wait for; null when none is pending.
 * @returns Settles once the transport is closed.
 */
export function closeAfterWrites(pipe: Pipe, queued: Promise<void> | null): Promise<void> {
  if (queued === null) return Promise.resolve().then(() => pipe.close());
  let timer: ReturnType<typeof setTimeout> | undefined;
  const linger = new Promise<void>((resolve) => {
    const t = setTimeout(resolve, CLOSE_LINGER_MS);
    Deno.unrefTimer(t);
    timer = t;
  });
  return Promise.race([queued.catch(() => {}), linger]).then(() => {
    clearTimeout(timer);
    pipe.close();
  });
}

function isFn(v: unknown): v is (...a: unknown[]) => unknown {
  return typeof v === "function";
}

/**
 * A transport's I/O error as denossl reports it: a connection reset, broken
 * pipe or abort becomes a {@link SysCallError} with the errno (the
 * transport's error as its `cause`), as OpenSSL reports it on a socket it
 * drives itself; anything else is returned as it is.
 *
 * @param e What the transport threw.
 * @returns The error to throw.
 */
export function transportError(e: unknown): unknown {
  let errno: number | null = null;
  if (e instanceof Deno.errors.ConnectionReset) errno = ERRNO.ECONNRESET;
  else if (e instanceof Deno.errors.BrokenPipe) errno = ERRNO.EPIPE;
  else if (e instanceof Deno.errors.ConnectionAborted) errno = ERRNO.ECONNABORTED;
  else if (e instanceof Deno.errors.UnexpectedEof) errno = -1;
  if (errno === null) return e;
  const error = new SysCallError(errno);
  error.cause = e;
  return error;
}

async function writeAllTo(
  to: { write(p: Uint8Array): Promise<number> },
  p: Uint8Array,
): Promise<void> {
  let off = 0;
  try {
    while (off < p.length) {
      const n = await to.write(off === 0 ? p : p.subarray(off));
      if (!(n > 0)) throw new Deno.errors.WriteZero("The transport wrote 0 bytes");
      off += n;
    }
  } catch (e) {
    throw transportError(e);
  }
}

function fromStreamPair(t: StreamPairTransport): Pipe {
  const reader = t.readable.getReader();
  const writer = t.writable.getWriter();
  let leftover: Uint8Array | null = null;
  let writerClosed = false;
  return {
    targets: [t.readable, t.writable],
    // reader.cancel() settles a pending read as done; bytes are copied into
    // `p` only in the continuation of a read that delivered a chunk.
    lends: true,
    async read(p): Promise<number | null> {
      let chunk = leftover;
      leftover = null;
      while (chunk === null || chunk.length === 0) {
        const r = await reader.read();
        if (r.done) return null;
        chunk = r.value;
      }
      const n = Math.min(p.length, chunk.length);
      p.set(chunk.subarray(0, n));
      if (n < chunk.length) leftover = chunk.subarray(n);
      return n;
    },
    async writeAll(p): Promise<void> {
      // The stream may keep the chunk: hand it a copy.
      try {
        await writer.write(p.slice());
      } catch (e) {
        throw transportError(e);
      }
    },
    async closeWrite(): Promise<void> {
      if (writerClosed) return;
      writerClosed = true;
      await writer.close().catch(() => {});
    },
    close(): void {
      reader.cancel().catch(() => {});
      if (!writerClosed) {
        writerClosed = true;
        writer.close().catch(() => {});
      }
    },
  };
}

/**
 * An object with `read`/`write` (a `Deno.Conn`, most often): methods on a
 * prototype rather than closures, since a server keeps one per connection.
 */
class StreamPipe implements Pipe {
  readonly targets: object[];
  readonly lends: boolean;
  readonly #s: StreamTransport;

  constructor(s: StreamTransport, lends: boolean) {
    this.#s = s;
    this.targets = [s];
    this.lends = lends;
  }

  read(p: Uint8Array): Promise<number | null> {
    return this.#s.read(p);
  }

  writeAll(p: Uint8Array): Promise<void> {
    return writeAllTo(this.#s, p);
  }

  async closeWrite(): Promise<void> {
    if (isFn(this.#s.closeWrite)) await this.#s.closeWrite();
  }

  close(): void {
    try {
      this.#s.close?.();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
  }
}

/**
 * Normalizes a transport.
 *
 * @param t The user's transport.
 * @param settlesReadsOnClose Whether the caller knows `t.close()` settles a
 *   pending read (a denossl `Connection`); Deno's sockets are recognised here.
 * @returns The pipe.
 * @throws {TypeError} When the shape is not recognised.
 */
export function toPipe(
  t: Exclude<Transport, null | FdTransport>,
  settlesReadsOnClose = false,
): Pipe {
  const any = t as unknown as Record<string, unknown>;
  if (isFn(any.read) && isFn(any.write)) {
    return new StreamPipe(t as StreamTransport, settlesReadsOnClose || isDenoConn(t));
  }
  const reader = any.reader as SplitTransport["reader"] | undefined;
  const writer = any.writer as SplitTransport["writer"] | undefined;
  if (reader && writer && isFn(reader.read) && isFn(writer.write)) {
    const closeQuietly = (o: { close?(): void }): void => {
      try {
        o.close?.();
      } catch (e) {
        if (!(e instanceof Deno.errors.BadResource)) throw e;
      }
    };
    let writerClosed = false;
    return {
      targets: [reader, writer],
      lends: isDenoConn(reader),
      read: (p) => reader.read(p),
      writeAll: (p) => writeAllTo(writer, p),
      closeWrite: () => {
        if (!writerClosed) {
          writerClosed = true;
          closeQuietly(writer);
        }
        return Promise.resolve();
      },
      close: () => {
        closeQuietly(reader);
        if (!writerClosed) {
          writerClosed = true;
          closeQuietly(writer);
        }
      },
    };
  }
  if (any.readable instanceof ReadableStream && any.writable instanceof WritableStream) {
    return fromStreamPair(t as StreamPairTransport);
  }
  throw new TypeError(
    "transport must be null, an object with read()/write(), { reader, writer } or { readable, writable }",
  );
}

/** How a connection's ciphertext moves: see `Connection.transportMode`. */
export type TransportMode = "memory" | "stream" | "native";

/**
 * Options of the {@link Connection} constructor.
 *
 * @example Ask for native mode over a TCP connection
 * ```ts
 * import type { ConnectionOptions } from "@denossl/denossl";
 * const options: ConnectionOptions = { native: true };
 * ```
 */
export interface ConnectionOptions {
  /**
   * Native mode on a `Deno.TcpConn` / `Deno.UnixConn`: OpenSSL reads and
   * writes the socket itself (its descriptor found by matching
   * `getsockname`/`getpeername` against `localAddr`/`remoteAddr`). Falls back
   * to stream mode when the descriptor cannot be found.
   */
  native?: boolean;
  /**
   * Stream mode over a `Deno.TcpConn` (Linux): once the connection writes
   * enough to pay for it, its socket's descriptor is found and duplicated,
   * checked again, and ciphertext is sent on the duplicate with one
   * `send(2)` instead of the transport's async `write`; what the socket does
   * not take goes through `write` as before. `false` sends every byte
   * through the transport.
   *
   * @default {true}
   */
  directWrites?: boolean;
  /**
   * Native mode on Linux: ask OpenSSL to hand the record layer to the
   * kernel (`OP_ENABLE_KTLS`), so encryption and decryption happen in
   * `send`/`recv` and bulk data need not cross into user space twice.
   * Whether it took, per direction, and why not, is
   * {@link ConnectionBase.ktls}; the connection works the same either way.
   *
   * @default {false}
   */
  ktls?: boolean;
}

/**
 * Whether a connection's records are encrypted and decrypted by the kernel
 * (kTLS), per direction; see {@link ConnectionBase.ktls}.
 *
 * @example Report whether kTLS is active
 * ```ts
 * import type { KtlsStatus } from "@denossl/denossl";
 * const status: KtlsStatus = { send: false, receive: false, reason: "not requested" };
 * console.log(status.send && status.receive ? "kTLS" : `no kTLS: ${status.reason}`);
 * ```
 */
export interface KtlsStatus {
  /** The kernel encrypts what this connection sends. */
  readonly send: boolean;
  /** The kernel decrypts what this connection receives. */
  readonly receive: boolean;
  /** Why a direction is not offloaded, for a person to read; null when both are. */
  readonly reason: string | null;
}

/** The address type a transport reports (`Deno.NetAddr` when it reports none). */
export type AddrOf<T> = T extends { readonly localAddr: infer A } ? A : Deno.NetAddr;

/** Members of a transport reachable on its connection through passthrough. */
export type TransportMembers<T> = T extends null ? unknown
  : T extends { read(p: Uint8Array): unknown; write(p: Uint8Array): unknown }
    ? Omit<T, keyof ConnectionBase>
  : T extends { fd: number } | { fileno(): number } ? Omit<T, keyof ConnectionBase>
  : T extends { reader: infer R; writer: infer W }
    ? Omit<R, keyof ConnectionBase> & Omit<W, keyof ConnectionBase | keyof R>
  : unknown;

/**
 * The constructor of {@link Connection}: `new Connection(context, transport)`.
 */
export interface ConnectionConstructor {
  /**
   * Creates a connection.
   *
   * @param context The configuration; it can no longer be changed afterwards.
   * @param transport `null` for memory BIOs, a transport to pump, or a descriptor (native mode).
   * @param options `native: true` for native mode on a `Deno.TcpConn`/`Deno.UnixConn`.
   */
  new <T extends Transport = null>(
    context: Context,
    transport?: T,
    options?: ConnectionOptions,
  ): Connection<T>;
  /** The prototype. */
  readonly prototype: ConnectionBase;
}

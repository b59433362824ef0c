/**
 * The native wire: OpenSSL reads and writes a duplicate of the transport's descriptor itself,
 * and the connection waits for readiness on the shared reactor. Internal.
 *
 * @module
 */

import { native } from "../ffi/library.ts";
import { SSL_set_read_ahead } from "../ffi/constants.ts";
import { ClosedError } from "../errors/ssl_error.ts";
import { clearErrors, sslErrorFromQueue } from "../errors/queue.ts";
import { reactor } from "../ffi/reactor.ts";
import { inCallback } from "../ffi/callbacks.ts";
import { closeNativeFd, closeNativeTransport, shutdownWrite } from "./_native.ts";
import type { NativeEndpoint } from "./_native.ts";
import { RELEASE_IDLE, waitBegins, waitEnds } from "./_idle.ts";
import type { SslCore } from "./_core.ts";
import type { Wire } from "./_pump.ts";

// The duplicate descriptor, closed when a connection is collected unclosed.
const fdRegistry = new FinalizationRegistry<NativeEndpoint>((endpoint) => {
  if (endpoint.fd >= 0) reactor().cancel(endpoint.fd, new ClosedError("Connection"));
  closeNativeFd(endpoint);
});

const RESOLVED: Promise<void> = Promise.resolve();

/** OpenSSL on a descriptor (`SSL_set_fd`); want-read and want-write wait on the reactor. */
export class NativeWire implements Wire {
  readonly #core: SslCore;
  readonly #endpoint: NativeEndpoint;
  /** The connection: held while this wire waits in the idle sweeper's sets, so that it cannot be collected (and its SSL freed) before the sweep. */
  readonly #owner: object;
  #closed = false;

  /**
   * Hands the descriptor to the `SSL*`. On failure the descriptor is closed.
   *
   * @param core The SSL core.
   * @param endpoint Our duplicate of the transport's descriptor.
   * @param owner The connection: if it is collected unclosed, the duplicate is closed.
   * @throws {SSLError} When `SSL_set_fd` fails.
   */
  constructor(core: SslCore, endpoint: NativeEndpoint, owner: object) {
    const ssl = core.handle;
    clearErrors();
    if (native().ssl.SSL_set_fd(ssl, endpoint.fd) !== 1) {
      closeNativeFd(endpoint);
      throw sslErrorFromQueue("SSL_set_fd failed");
    }
    SSL_set_read_ahead(ssl, 1); // one read() per record or more, not one per header and body
    this.#core = core;
    this.#endpoint = endpoint;
    this.#owner = owner;
    fdRegistry.register(owner, endpoint, endpoint);
  }

  get targets(): readonly object[] {
    return this.#endpoint.targets;
  }

  /** The descriptor OpenSSL uses (-1 once closed). */
  get fd(): number {
    return this.#endpoint.fd;
  }

  outgoing(): number {
    return 0;
  }

  incoming(): number {
    return 0;
  }

  #wait(interest: "read" | "write"): Promise<void> {
    const fd = this.#endpoint.fd;
    if (this.#closed || fd < 0) return Promise.reject(new ClosedError("Connection"));
    return reactor().wait(fd, interest);
  }

  /** OpenSSL wrote to the socket itself: nothing to move. */
  flush(): Promise<void> {
    return RESOLVED;
  }

  drain(): Promise<void> {
    return this.#wait("write");
  }

  fill(): Promise<void> {
    waitBegins(this);
    return this.#wait("read");
  }

  /** OpenSSL reads the socket itself: nothing to lend. */
  lend(): null {
    return null;
  }

  landLent(): void {}

  lentFailed(e: unknown): unknown {
    return e;
  }

  handshakeDone(): void {}

  [RELEASE_IDLE](): void {
    if (this.#core.raw === null || inCallback()) return;
    this.#core.releaseBuffers();
  }

  closeWrite(): Promise<void> {
    shutdownWrite(this.#endpoint);
    return RESOLVED;
  }

  detach(): void {
    this.#closed = true;
    const fd = this.#endpoint.fd;
    // Settle pending waits and deregister before the descriptor goes away.
    if (fd >= 0) reactor().cancel(fd, new ClosedError("Connection"));
  }

  afterFree(): void {
    fdRegistry.unregister(this.#endpoint);
    closeNativeFd(this.#endpoint);
  }

  close(): Promise<void> {
    closeNativeTransport(this.#endpoint);
    waitEnds(this);
    return RESOLVED;
  }

  closing(): Promise<void> {
    return RESOLVED;
  }
}

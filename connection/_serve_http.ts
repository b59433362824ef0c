/**
 * The bridge between `node:http`'s request and response objects and the web's `Request` and
 * `Response`, for `serve()`: no HTTP is parsed or written here, only moved across.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";

/** A web `Request` for a `node:http` request that arrived over TLS. */
export function toRequest(
  req: IncomingMessage,
  fallbackHost: string,
  signal: AbortSignal,
): Request {
  const path = req.url ?? "/";
  const url = path.startsWith("/") ? `https://${req.headers.host ?? fallbackHost}${path}` : path;
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(url, {
    method,
    headers,
    signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" } : {}),
  } as RequestInit);
}

/** Microtask turns a read of a stream that is already complete may take to settle. */
const SOON_TURNS = 8;

/** What `p` resolved to if it settles within a few microtask turns, else undefined. */
async function settledSoon<T>(p: Promise<T>): Promise<T | undefined> {
  let value: T | undefined;
  let settled = false;
  p.then((v) => {
    value = v;
    settled = true;
  }, () => {
    settled = true;
  });
  for (let i = 0; i < SOON_TURNS && !settled; i++) await undefined;
  return settled ? value ?? await p : undefined;
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/**
 * Writes `response` to `res`: status, headers (each `set-cookie` apart) and the body. A body
 * that fits in one chunk goes out with a `content-length` in one write; a longer one is
 * streamed with back-pressure (chunked unless the response set a length). A client that goes
 * away cancels the body.
 */
export async function writeResponse(
  response: Response,
  res: ServerResponse,
  closeAfter: boolean,
): Promise<void> {
  res.statusCode = response.status;
  if (response.statusText !== "") res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  if (closeAfter) res.setHeader("connection", "close");
  const body = response.body;
  if (body === null) {
    res.end();
    return;
  }
  const reader = body.getReader();
  try {
    const reading = reader.read();
    let first = await settledSoon(reading);
    if (first === undefined) {
      res.flushHeaders(); // a body that is slow to start: the client has the status meanwhile
      first = await reading;
    }
    if (first.done) {
      if (!res.hasHeader("content-length")) res.setHeader("content-length", 0);
      res.end();
      return;
    }
    // A body already complete (a string, bytes) goes out whole with its length; a producer
    // that is still working must not hold the first chunk back.
    const pending = reader.read();
    let next = await settledSoon(pending);
    if (next === undefined) {
      res.write(first.value);
      next = await pending;
    } else if (next.done) {
      if (!res.hasHeader("content-length")) res.setHeader("content-length", first.value.byteLength);
      res.end(first.value);
      return;
    } else {
      res.write(first.value);
    }
    while (!next.done) {
      if (res.destroyed) break;
      if (!res.write(next.value)) await drained(res);
      next = await reader.read();
    }
    if (res.destroyed) {
      await reader.cancel().catch(() => {});
      return;
    }
    res.end();
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    res.destroy(e instanceof Error ? e : new Error(String(e)));
  }
}

import assert from "node:assert/strict";
import { ClosedError, OP_NO_TICKET, TLS1_2_VERSION, TLS1_3_VERSION } from "../mod.ts";
import { handshakeInMemory } from "./_pair.ts";
import {
  catchError,
  clientContext,
  drain,
  pair,
  pin,
  serverContext,
} from "./_negotiation_fixtures.ts";

Deno.test("Session.hasTicket() and ticketLifetimeHint: a TLS 1.3 session carries the server's ticket and its hint", () => {
  using sctx = pin(serverContext(), TLS1_3_VERSION);
  sctx.setTimeout(1234); // OpenSSL's TLS 1.3 lifetime hint is the session timeout
  using cctx = clientContext();
  const { client, server } = pair(cctx, sctx);
  try {
    handshakeInMemory(client, server);
    drain(client); // the tickets arrive after the handshake
    using session = client.getSession()!;
    assert.equal(session.hasTicket(), true);
    assert.equal(session.ticketLifetimeHint, 1234);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("Session.hasTicket() is false and ticketLifetimeHint 0 for a TLS 1.2 session kept by ID (OP_NO_TICKET)", () => {
  using sctx = pin(serverContext(), TLS1_2_VERSION);
  sctx.setOptions(OP_NO_TICKET);
  using cctx = clientContext();
  const { client, server } = pair(cctx, sctx);
  try {
    handshakeInMemory(client, server);
    using session = client.getSession()!;
    assert.equal(session.hasTicket(), false);
    assert.equal(session.ticketLifetimeHint, 0);
    assert.ok(session.id.length > 0);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("Session.hasTicket() is true for a TLS 1.2 ticket session; both throw ClosedError once closed", () => {
  using sctx = pin(serverContext(), TLS1_2_VERSION);
  using cctx = clientContext();
  const { client, server } = pair(cctx, sctx);
  try {
    handshakeInMemory(client, server);
    const session = client.getSession()!;
    assert.equal(session.hasTicket(), true);
    assert.ok(session.ticketLifetimeHint > 0);
    session.close();
    catchError(() => session.hasTicket(), ClosedError);
    catchError(() => session.ticketLifetimeHint, ClosedError);
  } finally {
    client.close();
    server.close();
  }
});

/*
 * The in-process memory-BIO pair in C: both ends in one process, no
 * sockets, ciphertext moved between memory BIOs by hand. The same loop as
 * bench/peers/denossl_pair.ts, so their ratio is denossl's FFI overhead.
 *
 *   pair <cert.pem> <key.pem> <ca.pem> bulk <bytes>   -> MB/s (16 KiB writes)
 *   pair <cert.pem> <key.pem> <ca.pem> hs <count>     -> handshakes/s
 *
 * Prints the whole run's rate ("value") and its fastest batch's ("best").
 *
 * Built by compare.ts with: cc -O2 pair.c -o pair -lssl -lcrypto
 */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "pair: %s\n", what);
  ERR_print_errors_fp(stderr);
  exit(1);
}

/* Batches timed on their own: "best" is the fastest batch's rate, the loop's
 * cost with the least interference from the rest of the machine. */
#define BULK_BATCH 1024 /* records of 16 KiB */
#define HS_BATCH 10     /* handshakes */

static SSL_CTX *sctx, *cctx;
static unsigned char wire[65536];

/* Moves every pending ciphertext byte from one end to the other. */
static void pump(SSL *from, SSL *to) {
  BIO *w = SSL_get_wbio(from), *r = SSL_get_rbio(to);
  for (;;) {
    size_t pending = BIO_ctrl_pending(w);
    if (pending == 0) return;
    int n = BIO_read(w, wire, pending < sizeof wire ? (int)pending : (int)sizeof wire);
    if (n <= 0) return;
    BIO_write(r, wire, n);
  }
}

static void step(SSL *ssl) {
  int ret = SSL_do_handshake(ssl);
  if (ret != 1 && SSL_get_error(ssl, ret) != SSL_ERROR_WANT_READ) die("handshake");
}

static void make_pair(SSL **client, SSL **server) {
  *client = SSL_new(cctx);
  *server = SSL_new(sctx);
  SSL_set_bio(*client, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
  SSL_set_bio(*server, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
  X509_VERIFY_PARAM_set1_host(SSL_get0_param(*client), "localhost", 0);
  SSL_set_connect_state(*client);
  SSL_set_accept_state(*server);
}

static void handshake(SSL *client, SSL *server) {
  for (int round = 0; round < 20; round++) {
    step(client);
    pump(client, server);
    step(server);
    pump(server, client);
    if (SSL_is_init_finished(client) && SSL_is_init_finished(server)) {
      step(client);
      return;
    }
  }
  die("handshake did not finish");
}

int main(int argc, char **argv) {
  if (argc < 6) die("usage: pair cert key ca bulk|hs n");
  sctx = SSL_CTX_new(TLS_server_method());
  cctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX *both[2] = {sctx, cctx};
  for (int i = 0; i < 2; i++) {
    SSL_CTX_set_min_proto_version(both[i], TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(both[i], "TLS_AES_128_GCM_SHA256");
  }
  if (SSL_CTX_use_certificate_chain_file(sctx, argv[1]) != 1) die("cert");
  if (SSL_CTX_use_PrivateKey_file(sctx, argv[2], SSL_FILETYPE_PEM) != 1) die("key");
  if (SSL_CTX_load_verify_locations(cctx, argv[3], NULL) != 1) die("ca");
  SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
  long n = atol(argv[5]);
  SSL *client, *server;
  if (strcmp(argv[4], "bulk") == 0) {
    make_pair(&client, &server);
    handshake(client, server);
    static unsigned char chunk[16384], out[16384];
    memset(chunk, 'x', sizeof chunk);
    long records = n / (long)sizeof chunk;
    double best = 0, t0 = now(), mark = t0;
    for (long i = 0; i < records; i++) {
      size_t w, r, got = 0;
      if (SSL_write_ex(client, chunk, sizeof chunk, &w) != 1 || w != sizeof chunk) die("write");
      pump(client, server);
      while (got < sizeof chunk) {
        if (SSL_read_ex(server, out + got, sizeof out - got, &r) != 1) die("read");
        got += r;
      }
      if ((i + 1) % BULK_BATCH == 0) {
        double t = now(), rate = BULK_BATCH * 16384 / 1e6 / (t - mark);
        if (rate > best) best = rate;
        mark = t;
      }
    }
    double dt = now() - t0;
    printf("{\"value\":%.3f,\"seconds\":%.6f,\"bytes\":%ld,\"best\":%.3f}\n",
           records * 16384 / 1e6 / dt, dt, records * 16384, best);
    SSL_free(client);
    SSL_free(server);
  } else {
    double best = 0, t0 = now(), mark = t0;
    for (long i = 0; i < n; i++) {
      make_pair(&client, &server);
      handshake(client, server);
      SSL_free(client);
      SSL_free(server);
      if ((i + 1) % HS_BATCH == 0) {
        double t = now(), rate = HS_BATCH / (t - mark);
        if (rate > best) best = rate;
        mark = t;
      }
    }
    double dt = now() - t0;
    printf("{\"value\":%.3f,\"seconds\":%.6f,\"count\":%ld,\"best\":%.3f}\n", n / dt, dt, n,
           best);
  }
  return 0;
}

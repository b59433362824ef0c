/*
 * OpenSSL's own speed over loopback TCP: the reference limit of the
 * side-by-side harness (bench/compare.ts). Same protocol as the peers in
 * bench/peers/ (see bench/README.md):
 *
 *   tls_bench server <cert.pem> <key.pem> [probe]
 *       listens on 127.0.0.1:0, prints the port, one thread per connection
 *       (probe: accepts every TLS 1.3 suite, serves one connection, prints
 *       the negotiated suite and group as JSON, exits)
 *   tls_bench client <ca.pem> <port> bulk <bytes>
 *                                    upload <bytes>
 *                                    hs <count> <concurrency>
 *                                    resume <count>
 *                                    pingpong <count>
 *                                    idle <count>
 *
 * Built by compare.ts with: cc -O2 tls_bench.c -o tls_bench -lssl -lcrypto -lpthread
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *SUITE = "TLS_AES_128_GCM_SHA256";

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "tls_bench: %s\n", what);
  ERR_print_errors_fp(stderr);
  exit(1);
}

static SSL_CTX *make_ctx(int server, const char *a, const char *b, int all_suites) {
  SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!ctx) die("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  if (!all_suites && SSL_CTX_set_ciphersuites(ctx, SUITE) != 1) die("ciphersuites");
  if (server) {
    if (SSL_CTX_use_certificate_chain_file(ctx, a) != 1) die("certificate");
    if (SSL_CTX_use_PrivateKey_file(ctx, b, SSL_FILETYPE_PEM) != 1) die("key");
  } else {
    if (SSL_CTX_load_verify_locations(ctx, a, NULL) != 1) die("CA");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  }
  return ctx;
}

/* ---------------------------------------------------------------- server */

static SSL_CTX *server_ctx;

static int write_all(SSL *ssl, const unsigned char *p, size_t n) {
  while (n > 0) {
    size_t w = 0;
    if (SSL_write_ex(ssl, p, n, &w) != 1) return -1;
    p += w;
    n -= w;
  }
  return 0;
}

static void *serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  static __thread unsigned char buf[65536];
  SSL *ssl = SSL_new(server_ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) == 1) {
    size_t have = 0, n = 0;
    while (have < 1 && SSL_read_ex(ssl, buf + have, sizeof buf - have, &n) == 1) have += n;
    if (have >= 1) {
      unsigned char cmd = buf[0];
      if (cmd == 'H') {
        write_all(ssl, (const unsigned char *)"h", 1);
      } else if (cmd == 'B') {
        while (have < 9 && SSL_read_ex(ssl, buf + have, sizeof buf - have, &n) == 1) have += n;
        uint64_t total = 0;
        memcpy(&total, buf + 1, 8); /* little-endian hosts only */
        memset(buf, 'x', sizeof buf);
        while (total > 0) {
          size_t chunk = total < sizeof buf ? (size_t)total : sizeof buf;
          if (write_all(ssl, buf, chunk) != 0) break;
          total -= chunk;
        }
      } else if (cmd == 'U') {
        while (have < 9 && SSL_read_ex(ssl, buf + have, sizeof buf - have, &n) == 1) have += n;
        uint64_t total = 0;
        memcpy(&total, buf + 1, 8); /* little-endian hosts only */
        uint64_t got = have - 9;
        while (got < total && SSL_read_ex(ssl, buf, sizeof buf, &n) == 1) got += n;
        if (got >= total) write_all(ssl, (const unsigned char *)"u", 1);
      } else if (cmd == 'P') {
        if (have > 1) write_all(ssl, buf + 1, have - 1);
        while (SSL_read_ex(ssl, buf, sizeof buf, &n) == 1) {
          if (write_all(ssl, buf, n) != 0) break;
        }
      }
      /* wait for the client to go away */
      while (SSL_read_ex(ssl, buf, sizeof buf, &n) == 1) {
      }
      SSL_shutdown(ssl);
    }
  }
  SSL_free(ssl);
  close(fd);
  ERR_clear_error();
  return NULL;
}

static int listen_any(int *port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) die("bind");
  if (listen(s, 4096) != 0) die("listen");
  socklen_t len = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return s;
}

static int run_server(const char *cert, const char *key, int probe) {
  server_ctx = make_ctx(1, cert, key, probe);
  int port;
  int s = listen_any(&port);
  printf("%d\n", port);
  fflush(stdout);
  if (probe) {
    int fd = accept(s, NULL, NULL);
    SSL *ssl = SSL_new(server_ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) die("probe handshake");
    unsigned char b[64];
    size_t n;
    SSL_read_ex(ssl, b, sizeof b, &n);
    write_all(ssl, (const unsigned char *)"h", 1);
    /* SSL_group_to_name knows the groups OBJ_nid2sn does not (a post-quantum hybrid on 3.5+). */
    const char *gname = SSL_group_to_name(ssl, SSL_get_negotiated_group(ssl));
    printf("{\"cipher\":\"%s\",\"group\":\"%s\"}\n", SSL_get_cipher_name(ssl),
           gname != NULL ? gname : "unknown");
    fflush(stdout);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    return 0;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (;;) {
    int fd = accept(s, NULL, NULL);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_t t;
    if (pthread_create(&t, &attr, serve, (void *)(intptr_t)fd) != 0) close(fd);
  }
}

/* ---------------------------------------------------------------- client */

static SSL_CTX *client_ctx;
static int server_port;

static SSL *dial(SSL_SESSION *session) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(server_port);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL *ssl = SSL_new(client_ctx);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  SSL_set_fd(ssl, fd);
  if (session) SSL_set_session(ssl, session);
  if (SSL_connect(ssl) != 1) die("SSL_connect");
  return ssl;
}

static void hang_up(SSL *ssl) {
  int fd = SSL_get_fd(ssl);
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
}

/* One 'H' exchange: the server finished its side and the client read its tickets. */
static void ask_h(SSL *ssl) {
  unsigned char b;
  size_t n;
  if (write_all(ssl, (const unsigned char *)"H", 1) != 0) die("write H");
  if (SSL_read_ex(ssl, &b, 1, &n) != 1) die("read h");
}

static int per_thread;

static void *hs_worker(void *arg) {
  (void)arg;
  for (int i = 0; i < per_thread; i++) {
    SSL *ssl = dial(NULL);
    ask_h(ssl);
    hang_up(ssl);
  }
  return NULL;
}

static SSL **idle_conns;

static void *idle_worker(void *arg) {
  int base = (int)(intptr_t)arg * per_thread;
  for (int i = 0; i < per_thread; i++) {
    idle_conns[base + i] = dial(NULL);
    ask_h(idle_conns[base + i]);
  }
  return NULL;
}

static int run_client(char **argv) {
  client_ctx = make_ctx(0, argv[2], NULL, 0);
  server_port = atoi(argv[3]);
  const char *mode = argv[4];
  if (strcmp(mode, "bulk") == 0) {
    uint64_t total = strtoull(argv[5], NULL, 10);
    SSL *ssl = dial(NULL);
    const char *cipher = SSL_get_cipher_name(ssl);
    const char *group = SSL_group_to_name(ssl, SSL_get_negotiated_group(ssl));
    static unsigned char buf[65536];
    buf[0] = 'B';
    memcpy(buf + 1, &total, 8);
    double t0 = now();
    if (write_all(ssl, buf, 9) != 0) die("write B");
    uint64_t got = 0;
    size_t n;
    while (got < total) {
      if (SSL_read_ex(ssl, buf, sizeof buf, &n) != 1) die("bulk read");
      got += n;
    }
    double dt = now() - t0;
    printf("{\"value\":%.3f,\"seconds\":%.6f,\"bytes\":%llu,\"cipher\":\"%s\",\"group\":\"%s\"}\n",
           total / 1e6 / dt, dt, (unsigned long long)total, cipher, group != NULL ? group : "unknown");
    hang_up(ssl);
  } else if (strcmp(mode, "upload") == 0) {
    uint64_t total = strtoull(argv[5], NULL, 10);
    SSL *ssl = dial(NULL);
    static unsigned char buf[65536];
    buf[0] = 'U';
    memcpy(buf + 1, &total, 8);
    double t0 = now();
    if (write_all(ssl, buf, 9) != 0) die("write U");
    memset(buf, 'x', sizeof buf);
    for (uint64_t left = total; left > 0;) {
      size_t chunk = left < sizeof buf ? (size_t)left : sizeof buf;
      if (write_all(ssl, buf, chunk) != 0) die("upload write");
      left -= chunk;
    }
    size_t n;
    if (SSL_read_ex(ssl, buf, 1, &n) != 1) die("upload reply");
    double dt = now() - t0;
    printf("{\"value\":%.3f,\"seconds\":%.6f,\"bytes\":%llu}\n", total / 1e6 / dt, dt,
           (unsigned long long)total);
    hang_up(ssl);
  } else if (strcmp(mode, "hs") == 0) {
    int count = atoi(argv[5]), conc = atoi(argv[6]);
    per_thread = count / conc;
    pthread_t t[256];
    double t0 = now();
    for (int i = 0; i < conc; i++) pthread_create(&t[i], NULL, hs_worker, NULL);
    for (int i = 0; i < conc; i++) pthread_join(t[i], NULL);
    double dt = now() - t0;
    printf("{\"value\":%.3f,\"seconds\":%.6f,\"count\":%d}\n", per_thread * conc / dt, dt,
           per_thread * conc);
  } else if (strcmp(mode, "resume") == 0) {
    int count = atoi(argv[5]), reused = 0;
    SSL *ssl = dial(NULL);
    ask_h(ssl);
    SSL_SESSION *session = SSL_get1_session(ssl);
    hang_up(ssl);
    double t0 = now();
    for (int i = 0; i < count; i++) {
      ssl = dial(session);
      ask_h(ssl);
      reused += SSL_session_reused(ssl);
      SSL_SESSION_free(session);
      session = SSL_get1_session(ssl);
      hang_up(ssl);
    }
    double dt = now() - t0;
    printf("{\"value\":%.3f,\"seconds\":%.6f,\"count\":%d,\"reused\":%d}\n", count / dt, dt,
           count, reused);
  } else if (strcmp(mode, "pingpong") == 0) {
    int count = atoi(argv[5]);
    SSL *ssl = dial(NULL);
    if (write_all(ssl, (const unsigned char *)"P", 1) != 0) die("write P");
    unsigned char b = 'p';
    size_t n;
    double t0 = now();
    for (int i = 0; i < count; i++) {
      if (write_all(ssl, &b, 1) != 0) die("ping");
      if (SSL_read_ex(ssl, &b, 1, &n) != 1) die("pong");
    }
    double dt = now() - t0;
    printf("{\"value\":%.3f,\"seconds\":%.6f,\"count\":%d}\n", count / dt, dt, count);
    hang_up(ssl);
  } else if (strcmp(mode, "idle") == 0) {
    int count = atoi(argv[5]);
    idle_conns = calloc(count, sizeof *idle_conns);
    per_thread = count / 16; /* 16 openers at a time, like the concurrent handshakes */
    pthread_t t[16];
    for (int i = 0; i < 16; i++) pthread_create(&t[i], NULL, idle_worker, (void *)(intptr_t)i);
    for (int i = 0; i < 16; i++) pthread_join(t[i], NULL);
    count = per_thread * 16;
    SSL **conns = idle_conns;
    printf("READY\n");
    fflush(stdout);
    char line[16];
    while (fgets(line, sizeof line, stdin)) {
    }
    for (int i = 0; i < count; i++) hang_up(conns[i]);
  } else {
    die("unknown mode");
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "server") == 0)
    return run_server(argv[2], argv[3], argc > 4 && strcmp(argv[4], "probe") == 0);
  if (argc >= 6 && strcmp(argv[1], "client") == 0) return run_client(argv);
  fprintf(stderr, "usage: see the comment at the top of tls_bench.c\n");
  return 2;
}

/* test_httpd_demux.c -- ICE-TCP on the TLS port (server/httpd_demux.c): a connection opening
 * with a framed ICE check is handed over, socket and bytes intact, even when its first frame
 * comes in pieces; unknown sessions, garbage and silence are closed and counted; HTTPS and the
 * plain-HTTP 400 are unchanged. */
#include "httpd_fixture.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>

static char dir[64], cert[128], key[128];

/* RFC 5769 section 2.1's request (USERNAME "evtj:h6vY"), framed as ICE-TCP sends it. */
static const uint8_t ice_req[] = {
    0x00, 0x6c,
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* What the media handler saw (loop thread; read after the join). */
static struct {
  int calls;
  char ufrag[16];
  uint8_t bytes[512];
  size_t len;
} seen;

/* Takes sessions with ufrag "evtj": answers "ok" on the socket it was given, and closes it (so
 * the client sees the answer, then EOF, only if the socket really came over). */
static int media(void *arg, int fd, const uint8_t *data, size_t len, const char *ufrag,
                 size_t ufrag_len) {
  (void)arg;
  seen.calls++;
  snprintf(seen.ufrag, sizeof(seen.ufrag), "%.*s", (int)ufrag_len, ufrag);
  seen.len = len < sizeof(seen.bytes) ? len : sizeof(seen.bytes);
  memcpy(seen.bytes, data, seen.len);
  if (ufrag_len != 4 || memcmp(ufrag, "evtj", 4)) {
    close(fd);
    return -ENOENT;
  }
  ssize_t w = write(fd, "ok", 2);
  close(fd);
  return w == 2 ? 0 : -EIO;
}

static int setup(void **state) {
  EVP_PKEY *pk = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  FILE *f;
  (void)state;
  strcpy(dir, "/tmp/tandem_demuxXXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(cert, sizeof(cert), "%s/c.crt", dir);
  snprintf(key, sizeof(key), "%s/c.key", dir);
  X509_set_version(x, 2);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, pk);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             (const unsigned char *)"demux.test", -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
  assert_non_null(f = fopen(cert, "w"));
  PEM_write_X509(f, x);
  fclose(f);
  assert_non_null(f = fopen(key, "w"));
  PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
  fclose(f);
  X509_free(x);
  EVP_PKEY_free(pk);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(cert);
  unlink(key);
  rmdir(dir);
  return 0;
}

static struct fx *demux_fx(void) {
  struct fx *f = fx_new();
  const char *bad = NULL;
  assert_int_equal(httpd_tls_new(cert, key, &f->tls, &bad), 0);
  f->media = media;
  memset(&seen, 0, sizeof(seen));
  return f;
}

static void demux_fx_free(struct fx *f) {
  httpd_tls_free(f->tls);
  free(f);
}

/* A whole HTTPS GET /hello on a new connection: true when it answered 200. */
static bool https_hello(struct fx *f) {
  struct cli *c = cli_connect(f);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL *ssl = ctx ? SSL_new(ctx) : NULL;
  static const char req[] = "GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  char buf[4096];
  int n = 0, r;
  bool ok = c && ssl && SSL_set_fd(ssl, c->fd) == 1 && SSL_connect(ssl) == 1 &&
            SSL_write(ssl, req, sizeof(req) - 1) == (int)sizeof(req) - 1;
  while (ok && n < (int)sizeof(buf) - 1 && (r = SSL_read(ssl, buf + n, (int)sizeof(buf) - 1 - n)) > 0)
    n += r;
  buf[n] = '\0';
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  cli_free(c);
  return ok && !strncmp(buf, "HTTP/1.1 200", 12);
}

static void client_ice(struct fx *f) {
  struct cli *c = cli_connect(f);
  CHECK(f, c);
  /* The frame header and part of the message, then the rest with the next frame's start:
   * all of it is handed over, in order. */
  CHECK(f, cli_send(c, ice_req, 5));
  usleep(50 * 1000);
  CHECK(f, cli_send(c, ice_req + 5, sizeof(ice_req) - 5));
  CHECK(f, cli_send(c, "\x00\x10", 2));
  CHECK(f, cli_fill(c) && c->len == 2 && !memcmp(c->buf, "ok", 2));
  CHECK(f, wait_eof(c));
  cli_free(c);
  CHECK(f, https_hello(f));
}

static void test_ice_handed_over(void **state) {
  struct fx *f = demux_fx();
  struct httpd_demux_stats st;
  (void)state;
  run(f, client_ice);
  assert_int_equal(seen.calls, 1);
  assert_string_equal(seen.ufrag, "evtj");
  /* The first read may or may not have brought the 2 bytes after the frame. */
  assert_true(seen.len == sizeof(ice_req) || seen.len == sizeof(ice_req) + 2);
  assert_memory_equal(seen.bytes, ice_req, sizeof(ice_req));
  assert_int_equal(f->requests, 1);
  httpd_get_demux_stats(NULL, &st);
  assert_int_equal(st.media + st.refused, 0);
  demux_fx_free(f);
}

static void client_refused(struct fx *f) {
  struct cli *c;
  uint8_t other[sizeof(ice_req)];
  struct timeval t0, t1;
  /* A check for a session the handler does not know. */
  memcpy(other, ice_req, sizeof(other));
  memcpy(other + 2 + 64, "abcd", 4);
  CHECK(f, (c = cli_connect(f)));
  CHECK(f, cli_send(c, other, sizeof(other)));
  CHECK(f, wait_eof(c) && c->len == 0);
  cli_free(c);
  /* Garbage: closed at once, without a word. */
  CHECK(f, (c = cli_connect(f)));
  CHECK(f, cli_send(c, "\x00\x00\x00\x00\xff\xfe", 6));
  CHECK(f, wait_eof(c) && c->len == 0);
  cli_free(c);
  /* A connection that says nothing is closed after the first-bytes timeout (idle_timeout_ms,
   * shorter here). */
  gettimeofday(&t0, NULL);
  CHECK(f, (c = cli_connect(f)));
  CHECK(f, wait_eof(c));
  gettimeofday(&t1, NULL);
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
  CHECK(f, ms >= 250 && ms < 3000);
  cli_free(c);
  /* A frame header, and then nothing: the same. */
  CHECK(f, (c = cli_connect(f)));
  CHECK(f, cli_send(c, ice_req, 12));
  CHECK(f, wait_eof(c));
  cli_free(c);
  /* Plain HTTP still gets its 400; HTTPS works. */
  expect_error(f, "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n", 400);
  CHECK(f, !f->err[0]);
  CHECK(f, https_hello(f));
}

static void test_refused(void **state) {
  struct fx *f = demux_fx();
  (void)state;
  f->cfg.idle_timeout_ms = 400;
  run(f, client_refused);
  assert_int_equal(seen.calls, 1);
  assert_string_equal(seen.ufrag, "abcd");
  assert_int_equal(f->requests, 1);
  demux_fx_free(f);
}

/* The counters, read on the loop thread just before the server closes. */
static bool stats_route(struct fx *f, const struct httpd_request *req, struct httpd_reply *rep) {
  struct httpd_demux_stats st;
  char body[64];
  if (strcmp(req->path, "/stats"))
    return false;
  httpd_get_demux_stats(f->s, &st);
  snprintf(body, sizeof(body), "%llu %llu", (unsigned long long)st.media,
           (unsigned long long)st.refused);
  httpd_reply_status(rep, 200);
  httpd_reply_body(rep, "text/plain", body, strlen(body), true);
  return true;
}

static void client_counted(struct fx *f) {
  struct cli *c;
  uint8_t other[sizeof(ice_req)];
  memcpy(other, ice_req, sizeof(other));
  memcpy(other + 2 + 64, "zzzz", 4);
  CHECK(f, (c = cli_connect(f)));
  CHECK(f, cli_send(c, ice_req, sizeof(ice_req)));
  CHECK(f, wait_eof(c));
  cli_free(c);
  CHECK(f, (c = cli_connect(f)));
  CHECK(f, cli_send(c, other, sizeof(other)));
  CHECK(f, wait_eof(c));
  cli_free(c);
  CHECK(f, (c = cli_connect(f)));
  CHECK(f, cli_send(c, "SSH-2.0-x\r\n", 11));
  CHECK(f, wait_eof(c));
  cli_free(c);
  /* The stats over HTTPS: one handed over, two refused. */
  struct cli *t = cli_connect(f);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL *ssl = SSL_new(ctx);
  static const char req[] = "GET /stats HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  char buf[2048];
  int n = 0, r;
  CHECK(f, t && ssl && SSL_set_fd(ssl, t->fd) == 1 && SSL_connect(ssl) == 1);
  CHECK(f, SSL_write(ssl, req, sizeof(req) - 1) == (int)sizeof(req) - 1);
  while (n < (int)sizeof(buf) - 1 && (r = SSL_read(ssl, buf + n, (int)sizeof(buf) - 1 - n)) > 0)
    n += r;
  buf[n] = '\0';
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  cli_free(t);
  CHECK(f, strstr(buf, "\r\n\r\n1 2"));
}

static void test_counted(void **state) {
  struct fx *f = demux_fx();
  (void)state;
  f->route = stats_route;
  run(f, client_counted);
  assert_int_equal(seen.calls, 2);
  demux_fx_free(f);
}

/* Without a media handler the TLS port behaves as before: an ICE frame is no TLS record, and
 * gets the plain 400. */
static void client_no_handler(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, cli_send(c, ice_req, sizeof(ice_req)));
  CHECK(f, read_response(c, &r, false) && r.status == 400);
  cli_free(c);
  CHECK(f, https_hello(f));
}

static void test_no_handler(void **state) {
  struct fx *f = demux_fx();
  (void)state;
  f->media = NULL;
  run(f, client_no_handler);
  assert_int_equal(seen.calls, 0);
  demux_fx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ice_handed_over),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_counted),
      cmocka_unit_test(test_no_handler),
  };
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_httpd_tls.c -- httpd over TLS: pages, WebSocket, plain HTTP refused, slow handshakes,
 * certificate reload, and the loader's errors. */
#include "httpd_fixture.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/stat.h>

static char dir[64];
static char cert1[128], key1[128], cert2[128], key2[128], junk[128];

/* A self-signed P-256 certificate for CN=cn, written as PEM. */
static void make_cert(const char *cn, const char *cert_path, const char *key_path) {
  EVP_PKEY *pk = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  X509_NAME *name;
  FILE *f;
  assert_non_null(pk);
  assert_non_null(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(cn[0] + 1000));
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, pk);
  name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, name);
  assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
  assert_non_null(f = fopen(cert_path, "w"));
  PEM_write_X509(f, x);
  fclose(f);
  assert_non_null(f = fopen(key_path, "w"));
  PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
  fclose(f);
  X509_free(x);
  EVP_PKEY_free(pk);
}

static int setup(void **state) {
  FILE *f;
  (void)state;
  strcpy(dir, "/tmp/tandem_tlsXXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(cert1, sizeof(cert1), "%s/one.crt", dir);
  snprintf(key1, sizeof(key1), "%s/one.key", dir);
  snprintf(cert2, sizeof(cert2), "%s/two.crt", dir);
  snprintf(key2, sizeof(key2), "%s/two.key", dir);
  snprintf(junk, sizeof(junk), "%s/junk.pem", dir);
  make_cert("one.test", cert1, key1);
  make_cert("two.test", cert2, key2);
  assert_non_null(f = fopen(junk, "w"));
  fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
  fclose(f);
  return 0;
}

static int teardown(void **state) {
  const char *files[] = {cert1, key1, cert2, key2, junk};
  (void)state;
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
    unlink(files[i]);
  rmdir(dir);
  return 0;
}

/* ---- a blocking TLS client on the client thread ---- */

struct tcli {
  struct cli *c;
  SSL_CTX *ctx;
  SSL *ssl;
  char cn[64]; /* the server certificate's CN */
};

static void tcli_free(struct tcli *t) {
  if (!t)
    return;
  SSL_free(t->ssl);
  SSL_CTX_free(t->ctx);
  cli_free(t->c);
  free(t);
}

static struct tcli *tcli_connect(struct fx *f) {
  struct tcli *t = calloc(1, sizeof(*t));
  static const unsigned char alpn[] = "\x02h2\x08http/1.1";
  const unsigned char *proto;
  unsigned plen;
  X509 *x;
  if (!t || !(t->c = cli_connect(f)) || !(t->ctx = SSL_CTX_new(TLS_client_method())))
    goto fail;
  /* Self-signed: the test checks the certificate by name instead. */
  SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_alpn_protos(t->ctx, alpn, sizeof(alpn) - 1);
  if (!(t->ssl = SSL_new(t->ctx)) || SSL_set_fd(t->ssl, t->c->fd) != 1 ||
      SSL_connect(t->ssl) != 1)
    goto fail;
  SSL_get0_alpn_selected(t->ssl, &proto, &plen);
  if (plen != 8 || memcmp(proto, "http/1.1", 8))
    goto fail;
  if (!(x = SSL_get1_peer_certificate(t->ssl)))
    goto fail;
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, t->cn, sizeof(t->cn));
  X509_free(x);
  return t;
fail:
  ERR_clear_error();
  tcli_free(t);
  return NULL;
}

static bool tcli_send(struct tcli *t, const void *p, size_t n) {
  return SSL_write(t->ssl, p, (int)n) == (int)n;
}

static bool tcli_fill(struct tcli *t) {
  struct cli *c = t->c;
  int r;
  if (c->len == sizeof(c->buf))
    return false;
  r = SSL_read(t->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
  if (r <= 0)
    return false;
  c->len += (size_t)r;
  return true;
}

/* GET path on t: the status, and the body in r. */
static bool tcli_get(struct tcli *t, const char *path, struct resp *r) {
  char req[256], *end, *cl;
  struct cli *c = t->c;
  size_t hl, n;
  snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
  if (!tcli_send(t, req, strlen(req)))
    return false;
  while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
    if (!tcli_fill(t))
      return false;
  hl = (size_t)(end + 4 - c->buf);
  memcpy(r->head, c->buf, hl);
  r->head[hl] = '\0';
  if (sscanf(r->head, "HTTP/1.1 %d", &r->status) != 1)
    return false;
  cl = strcasestr(r->head, "\r\nContent-Length:");
  n = cl ? strtoul(cl + 17, NULL, 10) : 0;
  while (c->len < hl + n)
    if (!tcli_fill(t))
      return false;
  memcpy(r->body, c->buf + hl, n);
  r->body[n] = '\0';
  r->blen = n;
  memmove(c->buf, c->buf + hl + n, c->len - hl - n);
  c->len -= hl + n;
  return true;
}

/* ---- tests ---- */

static struct fx *tls_fx(const char *cert, const char *key) {
  struct fx *f = fx_new();
  const char *bad = NULL;
  assert_int_equal(httpd_tls_new(cert, key, &f->tls, &bad), 0);
  return f;
}

static void tls_fx_free(struct fx *f) {
  httpd_tls_free(f->tls);
  free(f);
}

static void client_page(struct fx *f) {
  struct tcli *t = tcli_connect(f);
  struct resp r;
  CHECK(f, t);
  CHECK(f, !strcmp(t->cn, "one.test"));
  CHECK(f, tcli_get(t, "/hello", &r));
  CHECK(f, r.status == 200 && !strcmp(r.body, "hello world"));
  CHECK(f, tcli_get(t, "/echo?x=1", &r)); /* keep-alive */
  CHECK(f, r.status == 200 && strstr(r.head, "X-Query: x=1"));
  CHECK(f, tcli_get(t, "/close", &r));
  CHECK(f, r.status == 200 && !strcmp(r.body, "bye"));
  /* The server ends with close_notify, then its FIN. */
  CHECK(f, !tcli_fill(t) && SSL_get_error(t->ssl, 0) == SSL_ERROR_ZERO_RETURN);
  tcli_free(t);
}

static void test_page(void **state) {
  struct fx *f = tls_fx(cert1, key1);
  (void)state;
  run(f, client_page);
  assert_int_equal(f->requests, 3);
  tls_fx_free(f);
}

static void client_ws(struct fx *f) {
  struct tcli *t = tcli_connect(f);
  static const char hs[] = "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n";
  /* A masked text frame "hi" (mask 1,2,3,4). */
  static const unsigned char frame[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
  char *end;
  CHECK(f, t);
  CHECK(f, tcli_send(t, hs, sizeof(hs) - 1));
  while (!(end = memmem(t->c->buf, t->c->len, "\r\n\r\n", 4)))
    CHECK(f, tcli_fill(t));
  CHECK(f, !strncmp(t->c->buf, "HTTP/1.1 101", 12));
  CHECK(f, strstr(t->c->buf, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  t->c->len -= (size_t)(end + 4 - t->c->buf);
  memmove(t->c->buf, end + 4, t->c->len);
  CHECK(f, tcli_send(t, frame, sizeof(frame)));
  while (t->c->len < 4)
    CHECK(f, tcli_fill(t));
  CHECK(f, (unsigned char)t->c->buf[0] == 0x81 && t->c->buf[1] == 2);
  CHECK(f, !memcmp(t->c->buf + 2, "hi", 2));
  tcli_free(t);
}

static void test_websocket(void **state) {
  struct fx *f = tls_fx(cert1, key1);
  (void)state;
  run(f, client_ws);
  assert_int_equal(f->ws_opens, 1);
  assert_int_equal(f->ws_msgs, 1);
  assert_int_equal(f->ws_closes, 1);
  tls_fx_free(f);
}

/* Plain HTTP on the TLS port: a plain 400 and the connection closes; so does garbage. */
static void client_plain(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 400 && strstr(r.body, "HTTPS"));
  CHECK(f, wait_eof(c));
  cli_free(c);
  expect_error(f, "POST /echo HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi", 400);
  /* A TLS record header announcing a record that is no handshake. */
  CHECK(f, (c = cli_connect(f)));
  CHECK(f, cli_send(c, "\x16\x03\x01\x00\x05\xff\xff\xff\xff\xff", 10));
  CHECK(f, wait_eof(c));
  cli_free(c);
  /* The server is still there. */
  struct tcli *t = tcli_connect(f);
  CHECK(f, t);
  CHECK(f, tcli_get(t, "/hello", &r) && r.status == 200);
  tcli_free(t);
}

static void test_plain_refused(void **state) {
  struct fx *f = tls_fx(cert1, key1);
  (void)state;
  run(f, client_plain);
  assert_int_equal(f->requests, 1);
  tls_fx_free(f);
}

/* A handshake that never finishes is closed by the idle timeout. */
static void client_slowloris(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct timeval t0, t1;
  long ms;
  CHECK(f, c);
  gettimeofday(&t0, NULL);
  /* The start of a ClientHello record, then a byte now and then. */
  CHECK(f, cli_send(c, "\x16\x03\x01\x02\x00\x01", 6));
  for (int i = 0; i < 3; i++) {
    usleep(100 * 1000);
    if (!cli_send(c, "\x00", 1))
      break;
  }
  CHECK(f, wait_eof(c));
  gettimeofday(&t1, NULL);
  ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
  CHECK(f, ms >= 250 && ms < 3000);
  cli_free(c);
}

static void test_slowloris(void **state) {
  struct fx *f = tls_fx(cert1, key1);
  (void)state;
  f->cfg.idle_timeout_ms = 400;
  run(f, client_slowloris);
  assert_int_equal(f->requests, 0);
  tls_fx_free(f);
}

/* A ClientHello sent a byte at a time (over memory BIOs, so the client controls the
 * segments) still completes the handshake: only a first byte that is no TLS record is
 * taken for plain HTTP. */
static void client_split_hello(struct fx *f) {
  struct cli *c = cli_connect(f);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL *ssl = ctx ? SSL_new(ctx) : NULL;
  BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
  char buf[16384];
  int r, flights = 0, one = 1;
  bool done = false;
  CHECK(f, c && ssl && rb && wb);
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  SSL_set_bio(ssl, rb, wb);
  SSL_set_connect_state(ssl);
  for (int i = 0; i < 20 && !done; i++) {
    r = SSL_do_handshake(ssl);
    done = r == 1;
    CHECK(f, done || SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ);
    while ((r = BIO_read(wb, buf, sizeof(buf))) > 0) {
      for (int k = 0; k < r; k++) {
        /* The first flight a byte at a time, the rest at once. */
        CHECK(f, cli_send(c, buf + k, flights == 0 ? 1 : (size_t)(r - k)));
        if (flights == 0)
          usleep(k < 8 ? 20000 : 0);
        else
          break;
      }
      flights++;
    }
    if (!done) {
      ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
      CHECK(f, n > 0);
      BIO_write(rb, buf, (int)n);
    }
  }
  CHECK(f, done);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  cli_free(c);
}

static void test_split_hello(void **state) {
  struct fx *f = tls_fx(cert1, key1);
  (void)state;
  run(f, client_split_hello);
  tls_fx_free(f);
}

static int no_media(void *arg, int fd, const uint8_t *data, size_t len, const char *ufrag,
                    size_t ufrag_len) {
  (void)arg, (void)data, (void)len, (void)ufrag, (void)ufrag_len;
  close(fd);
  return -ENOENT;
}

/* The same with ICE-TCP on the port (httpd_demux.c): the first bytes are held until they tell
 * TLS, then given to TLS in order. */
static void test_split_hello_demux(void **state) {
  struct fx *f = tls_fx(cert1, key1);
  (void)state;
  f->media = no_media;
  run(f, client_split_hello);
  tls_fx_free(f);
}

/* /big?n: 16 KiB, with the query echoed in X-Query. */
static bool big_route(struct fx *f, const struct httpd_request *req, struct httpd_reply *rep) {
  (void)f;
  if (strcmp(req->path, "/big"))
    return false;
  httpd_reply_status(rep, 200);
  httpd_reply_header(rep, "X-Query", req->query);
  httpd_reply_body(rep, "text/plain", big, sizeof(big), false);
  return true;
}

/* The output limit holds over TLS: thousands of pipelined requests never read are answered
 * only until about HTTPD__OUT_MAX is queued. */
static void client_pipeline_unread(struct fx *f) {
  struct tcli *t = tcli_connect(f);
  static char reqs[3000 * 32];
  size_t n = 0;
  CHECK(f, t);
  for (int i = 0; i < 3000; i++)
    n += (size_t)snprintf(reqs + n, sizeof(reqs) - n, "GET /big?%d HTTP/1.1\r\n\r\n", i);
  CHECK(f, tcli_send(t, reqs, n));
  usleep(300 * 1000);
  tcli_free(t);
}

static void test_pipeline_unread(void **state) {
  struct fx *f = tls_fx(cert1, key1);
  (void)state;
  f->route = big_route;
  run(f, client_pipeline_unread);
  print_message("answered %d of 3000 pipelined requests\n", f->requests);
  assert_true(f->requests < 600);
  tls_fx_free(f);
}

/* Read slowly, every answer comes, in order: nothing stays stuck inside OpenSSL while the
 * server has stopped reading. Then the header limit, over TLS too. */
static void client_pipeline_slow(struct fx *f) {
  struct tcli *t = tcli_connect(f);
  static char reqs[400 * 32];
  char want[32], *hdr;
  struct resp r;
  size_t n = 0;
  CHECK(f, t);
  for (int i = 0; i < 400; i++)
    n += (size_t)snprintf(reqs + n, sizeof(reqs) - n, "GET /big?%d HTTP/1.1\r\n\r\n", i);
  CHECK(f, tcli_send(t, reqs, n));
  usleep(100 * 1000);
  for (int i = 0; i < 400; i++) {
    snprintf(want, sizeof(want), "\r\nX-Query: %d\r\n", i);
    /* tcli_get sends one more request: read the answers with an empty path instead. */
    char *end;
    size_t hl, bl;
    while (!(end = memmem(t->c->buf, t->c->len, "\r\n\r\n", 4)))
      CHECK(f, tcli_fill(t));
    hl = (size_t)(end + 4 - t->c->buf);
    CHECK(f, !strncmp(t->c->buf, "HTTP/1.1 200", 12) && memmem(t->c->buf, hl, want, strlen(want)));
    bl = sizeof(big);
    while (t->c->len < hl + bl)
      CHECK(f, tcli_fill(t));
    memmove(t->c->buf, t->c->buf + hl + bl, t->c->len - hl - bl);
    t->c->len -= hl + bl;
  }
  hdr = calloc(1, 20000);
  CHECK(f, hdr);
  memset(hdr, 'a', 19999);
  n = (size_t)snprintf(reqs, sizeof(reqs), "GET /hello HTTP/1.1\r\nX-Long: ");
  CHECK(f, tcli_send(t, reqs, n) && tcli_send(t, hdr, 19999));
  free(hdr);
  CHECK(f, tcli_get(t, "/hello", &r));
  CHECK(f, r.status == 431 && strstr(r.head, "Connection: close"));
  tcli_free(t);
}

static void test_pipeline_slow(void **state) {
  struct fx *f = tls_fx(cert1, key1);
  (void)state;
  f->route = big_route;
  run(f, client_pipeline_slow);
  assert_int_equal(f->requests, 400);
  tls_fx_free(f);
}

/* /reload switches the server to user (the second certificate). */
static bool reload_route(struct fx *f, const struct httpd_request *req, struct httpd_reply *rep) {
  if (strcmp(req->path, "/reload"))
    return false;
  httpd_set_tls(f->s, f->user);
  httpd_reply_status(rep, 200);
  return true;
}

static void client_reload(struct fx *f) {
  struct tcli *a = tcli_connect(f), *b;
  struct resp r;
  CHECK(f, a);
  CHECK(f, !strcmp(a->cn, "one.test"));
  CHECK(f, tcli_get(a, "/hello", &r) && r.status == 200);
  CHECK(f, tcli_get(a, "/reload", &r) && r.status == 200);
  /* New connections see the new certificate; the old one carries on. */
  CHECK(f, (b = tcli_connect(f)));
  CHECK(f, !strcmp(b->cn, "two.test"));
  CHECK(f, tcli_get(b, "/hello", &r) && r.status == 200);
  CHECK(f, tcli_get(a, "/hello", &r) && r.status == 200 && !strcmp(r.body, "hello world"));
  tcli_free(a);
  tcli_free(b);
}

static void test_reload(void **state) {
  struct fx *f = tls_fx(cert1, key1);
  struct httpd_tls *two = NULL;
  const char *bad;
  (void)state;
  assert_int_equal(httpd_tls_new(cert2, key2, &two, &bad), 0);
  f->route = reload_route;
  f->user = two;
  run(f, client_reload);
  httpd_tls_free(two);
  tls_fx_free(f);
}

static void test_load_errors(void **state) {
  struct httpd_tls *t = NULL;
  const char *bad = NULL;
  char missing[160];
  (void)state;
  snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
  assert_int_equal(httpd_tls_new(missing, key1, &t, &bad), -ENOENT);
  assert_ptr_equal(bad, missing);
  assert_int_equal(httpd_tls_new(cert1, missing, &t, &bad), -ENOENT);
  assert_ptr_equal(bad, missing);
  assert_int_equal(httpd_tls_new(junk, key1, &t, &bad), -EBADMSG);
  assert_ptr_equal(bad, junk);
  assert_int_equal(httpd_tls_new(cert1, junk, &t, &bad), -EBADMSG);
  assert_ptr_equal(bad, junk);
  assert_int_equal(httpd_tls_new(cert1, key2, &t, &bad), -EINVAL);
  assert_ptr_equal(bad, key2);
  assert_null(t);
  assert_non_null(strstr(httpd_tls_strerror(-EINVAL), "match"));
  assert_int_equal(httpd_tls_new(cert2, key2, &t, &bad), 0);
  {
    char fp[128];
    int days = -5;
    httpd_tls_info(t, fp, sizeof(fp), &days);
    assert_int_equal(strlen(fp), 95); /* 32 bytes as XX:XX:... */
    assert_true(days == 0 || days == 1); /* valid for a day from setup */
  }
  httpd_tls_free(t);
  httpd_tls_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_load_errors),
    cmocka_unit_test(test_page),
    cmocka_unit_test(test_websocket),
    cmocka_unit_test(test_plain_refused),
    cmocka_unit_test(test_slowloris),
    cmocka_unit_test(test_split_hello),
    cmocka_unit_test(test_split_hello_demux),
    cmocka_unit_test(test_pipeline_unread),
    cmocka_unit_test(test_pipeline_slow),
    cmocka_unit_test(test_reload),
  };
  memset(big, 'b', sizeof(big));
  /* As in tandem (main.c): a write to a connection the peer has reset returns EPIPE. The
   * client's SSL_write needs it too. */
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, setup, teardown);
}

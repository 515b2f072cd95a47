/* httpd_tls.c -- TLS for httpd connections: OpenSSL on memory BIOs between libuv and the parser. */
#include "server/httpd_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* TLS's own output (handshake, tickets, alerts, KeyUpdate answers) queued in libuv past
 * this means a peer that makes us talk without reading: it is dropped. */
#define TLS_QUEUE_MAX (4u * 1024 * 1024)
/* Handshake messages from the client (we ask for no certificate) stay small. */
#define TLS_MAX_HANDSHAKE 16384

struct httpd_tls {
  SSL_CTX *ctx;
};

/* One write of ciphertext. `orig` (NULL for TLS's own output) is the caller's request,
 * completed with this write's status. */
struct tls_write {
  uv_write_t req;
  uv_write_t *orig;
  uv_write_cb cb;
  char data[];
};

static const char plain_refused[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 44\r\n"
    "Connection: close\r\n"
    "\r\n"
    "This port speaks HTTPS: use an https:// URL\n";

/* ---- certificates ---- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  static const unsigned char ours[] = "\x08http/1.1";
  unsigned char *sel;
  (void)ssl;
  (void)arg;
  /* A client offering only protocols we do not speak (h2 alone) goes on without ALPN. */
  if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

/* 0 if path can be opened for reading, else a negative errno. */
static int readable(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return errno ? -errno : -EIO;
  fclose(f);
  return 0;
}

int httpd_tls_new(const char *cert_file, const char *key_file, struct httpd_tls **out,
                  const char **bad_file) {
  struct httpd_tls *t;
  SSL_CTX *ctx;
  int r;
  *out = NULL;
  *bad_file = cert_file;
  if ((r = readable(cert_file)) != 0)
    return r;
  *bad_file = key_file;
  if ((r = readable(key_file)) != 0)
    return r;
  *bad_file = NULL;
  if (!(t = calloc(1, sizeof(*t))) || !(ctx = SSL_CTX_new(TLS_server_method()))) {
    free(t);
    return -ENOMEM;
  }
  t->ctx = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_COMPRESSION);
  /* Idle connections give their buffers back; tickets resume sessions without a cache. */
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 1);
  SSL_CTX_set_max_cert_list(ctx, TLS_MAX_HANDSHAKE);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
  r = 0;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
    *bad_file = cert_file;
    r = -EBADMSG;
  } else if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
    *bad_file = key_file;
    /* OpenSSL reports a key of another type than the certificate's here. */
    r = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH ||
                ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_TYPE_MISMATCH
            ? -EINVAL
            : -EBADMSG;
  } else if (SSL_CTX_check_private_key(ctx) != 1) {
    *bad_file = key_file;
    r = -EINVAL;
  }
  ERR_clear_error();
  if (r) {
    httpd_tls_free(t);
    return r;
  }
  *out = t;
  return 0;
}

const char *httpd_tls_strerror(int err) {
  switch (err) {
  case -EBADMSG:
    return "holds no usable PEM certificate or key";
  case -EINVAL:
    return "does not match the certificate (tls_cert)";
  default:
    return strerror(-err);
  }
}

void httpd_tls_info(const struct httpd_tls *t, char *fp, size_t fplen, int *days_left) {
  X509 *x = SSL_CTX_get0_certificate(t->ctx);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0, i;
  int days = 0, secs = 0;
  size_t n = 0;
  if (fplen)
    fp[0] = '\0';
  *days_left = 0;
  if (!x)
    return;
  if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1)
    for (i = 0; i < mdlen && n + 4 <= fplen; i++)
      n += (size_t)snprintf(fp + n, fplen - n, i ? ":%02X" : "%02X", md[i]);
  if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1)
    *days_left = days;
}

void httpd_tls_free(struct httpd_tls *t) {
  if (!t)
    return;
  SSL_CTX_free(t->ctx);
  free(t);
}

void httpd_set_tls(struct httpd *s, struct httpd_tls *t) {
  if (t)
    SSL_CTX_up_ref(t->ctx);
  SSL_CTX_free(s->tls_ctx); /* each SSL holds its own reference */
  s->tls_ctx = t ? t->ctx : NULL;
}

bool httpd_tls_on(const struct httpd *s) {
  return s && s->tls_ctx;
}

/* ---- connections ---- */

int httpd__tls_accept(struct httpd_conn *c) {
  BIO *rb, *wb;
  if (!c->srv->tls_ctx)
    return 0;
  if (!(c->ssl = SSL_new(c->srv->tls_ctx)))
    return -ENOMEM;
  rb = BIO_new(BIO_s_mem());
  wb = BIO_new(BIO_s_mem());
  if (!rb || !wb) {
    BIO_free(rb);
    BIO_free(wb);
    return -ENOMEM;
  }
  /* An empty read BIO means "more to come", not end of file. */
  BIO_set_mem_eof_return(rb, -1);
  BIO_set_mem_eof_return(wb, -1);
  SSL_set_bio(c->ssl, rb, wb);
  SSL_set_accept_state(c->ssl);
  return 0;
}

void httpd__tls_conn_free(struct httpd_conn *c) {
  SSL_free(c->ssl);
  c->ssl = NULL;
}

static void tls_on_write(uv_write_t *req, int status) {
  struct tls_write *w = (struct tls_write *)req;
  uv_write_t *orig = w->orig;
  uv_write_cb cb = w->cb;
  free(w);
  if (cb)
    cb(orig, status);
}

/* Writes data (or, with data NULL, what TLS has queued in its write BIO). orig/cb as in
 * struct tls_write. 0 or a negative errno, cb not called then. */
static int raw_send(struct httpd_conn *c, const char *data, size_t len, uv_write_t *orig,
                    uv_write_cb cb) {
  struct tls_write *w;
  uv_buf_t b;
  int r;
  if (!data)
    len = c->ssl ? (size_t)BIO_ctrl_pending(SSL_get_wbio(c->ssl)) : 0;
  if (len == 0 && !orig)
    return 0;
  if (!orig && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > TLS_QUEUE_MAX)
    return -ENOBUFS;
  if (!(w = malloc(sizeof(*w) + len)))
    return -ENOMEM;
  if (data)
    memcpy(w->data, data, len);
  else if (len && BIO_read(SSL_get_wbio(c->ssl), w->data, (int)len) != (int)len) {
    free(w);
    return -EIO;
  }
  w->orig = orig;
  w->cb = cb;
  b = uv_buf_init(w->data, (unsigned)len);
  if ((r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, tls_on_write)) != 0) {
    free(w);
    return r;
  }
  return 0;
}

int httpd__write(struct httpd_conn *c, uv_write_t *req, const uv_buf_t *bufs, unsigned n,
                 uv_write_cb cb) {
  unsigned i;
  if (!c->ssl)
    return uv_write(req, (uv_stream_t *)&c->tcp, bufs, n, cb);
  /* The write BIO grows as needed, so each SSL_write takes all it is given. */
  for (i = 0; i < n; i++)
    if (bufs[i].len && SSL_write(c->ssl, bufs[i].base, (int)bufs[i].len) != (int)bufs[i].len) {
      ERR_clear_error();
      return -EPROTO;
    }
  return raw_send(c, NULL, 0, req, cb);
}

void httpd__tls_shutdown(struct httpd_conn *c) {
  if (!c->ssl || !SSL_is_init_finished(c->ssl))
    return;
  SSL_shutdown(c->ssl);
  ERR_clear_error();
  if (raw_send(c, NULL, 0, NULL, NULL) != 0)
    httpd__conn_close(c);
}

/* Not a TLS record at all (a TLS handshake record starts with 22): most likely plain HTTP
 * on the HTTPS port, which is told so in plain HTTP. */
void httpd__tls_refuse_plain(struct httpd_conn *c) {
  SSL_free(c->ssl);
  c->ssl = NULL;
  c->close_after_write = true;
  if (raw_send(c, plain_refused, sizeof(plain_refused) - 1, NULL, NULL) != 0) {
    httpd__conn_close(c);
    return;
  }
  httpd__conn_finish(c);
}

void httpd__tls_read(struct httpd_conn *c, const char *data, size_t len) {
  struct httpd *s = c->srv;
  int n, e;
  if (!c->tls_started) {
    const unsigned char *held = NULL;
    size_t held_len = 0;
    if (httpd__demux_pending(c)) {
      if (!httpd__demux(c, data, len, &held, &held_len))
        return;
    } else if ((unsigned char)data[0] != 22) {
      c->tls_started = true;
      httpd__tls_refuse_plain(c);
      return;
    }
    c->tls_started = true;
    if (held_len && BIO_write(SSL_get_rbio(c->ssl), held, (int)held_len) != (int)held_len) {
      httpd__conn_close(c);
      return;
    }
    httpd__demux_done(c);
  }
  if (BIO_write(SSL_get_rbio(c->ssl), data, (int)len) != (int)len) {
    httpd__conn_close(c);
    return;
  }
  if (!SSL_is_init_finished(c->ssl)) {
    n = SSL_do_handshake(c->ssl);
    if (n <= 0 && SSL_get_error(c->ssl, n) != SSL_ERROR_WANT_READ) {
      /* Send the alert, then close: the peer sees why. */
      ERR_clear_error();
      if (raw_send(c, NULL, 0, NULL, NULL) != 0)
        httpd__conn_close(c);
      else
        httpd__conn_finish(c);
      return;
    }
  }
  /* Everything decrypted now is passed on now: nothing stays inside OpenSSL for a read
   * that may never come (reading can stop while requests are held). */
  while (!c->closing && SSL_is_init_finished(c->ssl)) {
    n = SSL_read(c->ssl, s->tbuf, (int)sizeof(s->tbuf));
    if (n > 0) {
      httpd__conn_input(c, s->tbuf, (size_t)n);
      if (c->draining || !c->ssl)
        break;
      continue;
    }
    e = SSL_get_error(c->ssl, n);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_ZERO_RETURN)
      break; /* close_notify: the FIN that follows ends the connection */
    httpd__conn_close(c);
    return;
  }
  if (!c->closing && c->ssl && raw_send(c, NULL, 0, NULL, NULL) != 0)
    httpd__conn_close(c);
}

/* fuzz_http.c -- libFuzzer target: hostile bytes to a live httpd over loopback. */
/*
 * One server lives for the whole run, with small limits so that they are
 * reached. Each input is one connection: if the first byte is odd the rest
 * follows a valid WebSocket handshake (so it is parsed as frames), otherwise
 * it is raw HTTP. The client sends it, half-closes, drains the answers until
 * the server closes, and the loop runs until the server has freed the
 * connection. ASan/LSan catch the rest.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct httpd *srv;
static int port;

static const char handshake[] =
    "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

static void on_request(void *arg, const struct httpd_request *req, struct httpd_reply *rep) {
  const char *h = httpd_header(req, "x-test");
  httpd_reply_status(rep, req->body_len ? 200 : 404);
  if (h)
    httpd_reply_header(rep, "X-Echo", h);
  httpd_reply_body(rep, "text/plain", req->body, req->body_len, true);
}

static void on_ws_message(void *arg, struct ws_conn *c, const char *d, size_t len, bool bin) {
  char reason[200];
  /* Exercise the closing paths from inside the callback too. */
  if (len > 0 && d[0] == 'C') {
    size_t n = len < sizeof(reason) - 1 ? len : sizeof(reason) - 1;
    memcpy(reason, d, n);
    reason[n] = '\0'; /* may be cut mid-character: ws_close must cope */
    ws_close(c, (uint16_t)(n > 1 ? (uint8_t)d[1] * 40 : 1000), reason);
  }
  else if (len > 0 && d[0] == 'F')
    while (ws_send_text(c, "flood", 5) == 0)
      ;
  else if (bin)
    ws_send_binary(c, d, len);
  else
    ws_send_text(c, d, len);
}

static void setup(void) {
  struct httpd_config cfg;
  struct httpd_handlers h = {
    .on_request = on_request, .ws_path = "/ws", .on_ws_message = on_ws_message,
  };
  uv_loop_init(&loop);
  httpd_config_default(&cfg);
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  cfg.max_header_bytes = 2048;
  cfg.max_body_bytes = 2048;
  cfg.max_ws_message = 4096;
  cfg.max_ws_outbuf = 8192;
  cfg.idle_timeout_ms = 2000;
  cfg.ws_ping_ms = 0;
  srv = httpd_new(&loop, &cfg, &h);
  if (!srv || httpd_listen(srv) != 0)
    abort();
  port = httpd_port(srv);
}

/* Lets the server work, and drains what it sent; false once it has closed. */
static bool pump(int fd) {
  char buf[65536];
  struct pollfd p = { .fd = fd, .events = POLLIN };
  ssize_t r;
  uv_run(&loop, UV_RUN_NOWAIT);
  poll(&p, 1, 1);
  while ((r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
    ;
  return !(r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct sockaddr_in a = { .sin_family = AF_INET };
  const uint8_t *p;
  size_t left;
  int fd, i;
  if (!srv)
    setup();
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS)
    abort();
  if (size > 0 && (data[0] & 1)) {
    p = (const uint8_t *)handshake;
    left = sizeof(handshake) - 1;
    while (left > 0) {
      ssize_t r = send(fd, p, left, MSG_NOSIGNAL);
      if (r > 0) {
        p += r;
        left -= (size_t)r;
      }
      uv_run(&loop, UV_RUN_NOWAIT);
    }
  }
  p = size > 0 ? data + 1 : data;
  left = size > 0 ? size - 1 : 0;
  for (i = 0; left > 0 && i < 10000; i++) {
    ssize_t r = send(fd, p, left, MSG_NOSIGNAL);
    if (r > 0) {
      p += r;
      left -= (size_t)r;
    } else if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      break; /* the server closed on us */
    }
    if (!pump(fd))
      break;
  }
  shutdown(fd, SHUT_WR);
  for (i = 0; i < 10000 && pump(fd); i++)
    ;
  close(fd);
  for (i = 0; i < 10000 && httpd_connection_count(srv) > 0; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  return 0;
}

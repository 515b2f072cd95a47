/* netaddr.c -- inet_pton/inet_ntop with IPv4-mapped IPv6 folded to IPv4. */
#include "moderation/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void set_v6(struct netaddr *out, const uint8_t b[16]) {
  memset(out, 0, sizeof(*out));
  if (memcmp(b, v4mapped, sizeof(v4mapped)) == 0) {
    out->family = NETADDR_V4;
    memcpy(out->b, b + 12, 4);
  } else {
    out->family = NETADDR_V6;
    memcpy(out->b, b, 16);
  }
}

int netaddr_parse(const char *s, struct netaddr *out) {
  uint8_t buf[16];

  memset(out, 0, sizeof(*out));
  if (!s)
    return -EINVAL;
  if (inet_pton(AF_INET, s, buf) == 1) {
    out->family = NETADDR_V4;
    memcpy(out->b, buf, 4);
    return 0;
  }
  if (inet_pton(AF_INET6, s, buf) == 1) {
    set_v6(out, buf);
    return 0;
  }
  return -EINVAL;
}

int netaddr_from_sockaddr(const struct sockaddr *sa, struct netaddr *out) {
  memset(out, 0, sizeof(*out));
  if (sa && sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    out->family = NETADDR_V4;
    memcpy(out->b, &in->sin_addr, 4);
    return 0;
  }
  if (sa && sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    set_v6(out, in6->sin6_addr.s6_addr);
    return 0;
  }
  return -EAFNOSUPPORT;
}

int netaddr_format(const struct netaddr *a, char *buf, size_t cap) {
  char tmp[NETADDR_STRLEN];
  int af;

  if (a->family == NETADDR_V4)
    af = AF_INET;
  else if (a->family == NETADDR_V6)
    af = AF_INET6;
  else
    return -EINVAL;
  if (!inet_ntop(af, a->b, tmp, sizeof(tmp)))
    return -EINVAL;
  if (strlen(tmp) >= cap)
    return -ENOSPC;
  memcpy(buf, tmp, strlen(tmp) + 1);
  return 0;
}

void netaddr_network(const struct netaddr *a, struct netaddr *net) {
  *net = *a;
  if (a->family == NETADDR_V4)
    net->b[3] = 0;
  else if (a->family == NETADDR_V6)
    memset(net->b + 8, 0, 8);
}

int netaddr_prefix64(const struct netaddr *a, struct netaddr *net) {
  if (a->family != NETADDR_V6) {
    memset(net, 0, sizeof(*net));
    return -EINVAL;
  }
  netaddr_network(a, net);
  return 0;
}

bool netaddr_equal(const struct netaddr *a, const struct netaddr *b) {
  return a->family == b->family && memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

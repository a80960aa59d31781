/*
 * loadgen: the benchmark's load generator, small and single-threaded
 * (epoll) so that it is never the bottleneck and can be pinned to one core.
 *
 *   loadgen pingpong HOST PORT CONNECTIONS SIZE SECONDS [lines|prefixed|tls]
 *       each connection sends SIZE bytes, waits for all of them to come
 *       back (checked byte for byte), and repeats, for SECONDS; with
 *       "lines", each message is one line ending in '\n'; with "prefixed",
 *       its first 4 bytes are the big-endian length of the rest; with "tls", each
 *       connection speaks TLS (OpenSSL; built with -DWITH_TLS only). The
 *       server's certificate is not verified: the load generator measures
 *       the server, it does not trust it.
 *   loadgen stream HOST PORT BYTES
 *       one connection sends BYTES of pseudo-random data while reading the
 *       echo, half-closes, reads to EOF; every byte is checked.
 *   loadgen idle HOST PORT CONNECTIONS
 *       opens CONNECTIONS connections, makes one 1-byte round trip on each,
 *       prints "ready", and holds them until standard input closes.
 *
 * Prints one JSON object on standard output.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef WITH_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int connect_to(const char *host, const char *port, int nonblocking) {
  struct addrinfo hints = {0}, *res;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "loadgen: %s: %s\n", host, gai_strerror(rc));
    exit(1);
  }
  int fd = socket(res->ai_family, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) die("connect");
  freeaddrinfo(res);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (nonblocking) {
    int flags = fcntl(fd, F_GETFL);
    if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) die("O_NONBLOCK");
  }
  return fd;
}

/* Latency histogram: 1 µs buckets up to 1 s, then one overflow bucket. */
#define BUCKETS 1000001
static uint32_t *histogram;
static uint64_t samples;
static uint64_t max_us;

static void record(double seconds) {
  uint64_t us = (uint64_t)(seconds * 1e6);
  if (us > max_us) max_us = us;
  histogram[us < BUCKETS - 1 ? us : BUCKETS - 1]++;
  samples++;
}

static double percentile(double p) {
  uint64_t rank = (uint64_t)(p * samples), seen = 0;
  for (uint64_t i = 0; i < BUCKETS; i++) {
    seen += histogram[i];
    if (seen > rank) return (double)i;
  }
  return (double)max_us;
}

static void cpu(double *user, double *sys) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

struct conn {
  int fd;
  void *ssl; /* an SSL*, with "tls" */
  size_t sent, received;
  uint32_t round;
  uint32_t events; /* what epoll watches for now */
  double started;
};

/* Watches `c` for `events`, with no system call when that is unchanged: a
 * ping-pong round trip then costs one write and one read. */
static void watch(int ep, struct conn *c, int id, uint32_t events) {
  if (c->events == events) return;
  struct epoll_event ev = {.events = events, .data.u32 = id};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->events = events;
}

/* With "tls": every connection's TLS settings. */
static void *tls_ctx = NULL;

/* Starts TLS on a connected, still blocking socket (handshake done here,
 * before the clock starts); exits on failure. */
static void *tls_start(int fd) {
#ifdef WITH_TLS
  SSL *ssl = SSL_new(tls_ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) != 1) {
    fprintf(stderr, "loadgen: TLS handshake failed\n");
    ERR_print_errors_fp(stderr);
    exit(1);
  }
  return ssl;
#else
  (void)fd;
  fprintf(stderr, "loadgen: built without TLS (needs libssl-dev)\n");
  exit(2);
#endif
}

/* write/read on a connection, plain or TLS: bytes moved, -2 when it would
 * block, else <= 0 for an error or the end (read). */
static ssize_t io_write(struct conn *c, const void *buf, size_t n) {
#ifdef WITH_TLS
  if (c->ssl) {
    int r = SSL_write(c->ssl, buf, (int)n);
    if (r > 0) return r;
    int e = SSL_get_error(c->ssl, r);
    return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? -2 : -1;
  }
#endif
  ssize_t w = write(c->fd, buf, n);
  return w < 0 && errno == EAGAIN ? -2 : w;
}

static ssize_t io_read(struct conn *c, void *buf, size_t n) {
#ifdef WITH_TLS
  if (c->ssl) {
    int r = SSL_read(c->ssl, buf, (int)n);
    if (r > 0) return r;
    int e = SSL_get_error(c->ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? -2 : -1;
  }
#endif
  ssize_t r = read(c->fd, buf, n);
  return r < 0 && errno == EAGAIN ? -2 : r;
}

static void conn_close(struct conn *c) {
#ifdef WITH_TLS
  if (c->ssl) SSL_free(c->ssl);
  c->ssl = NULL;
#endif
  close(c->fd);
  c->fd = -1;
}

/* A connection's message: a fixed pattern made once, with the round number
 * stamped at both ends, so a stale or misrouted echo fails the check
 * without costing a pass over the whole message per round. */
/* With "lines", each message is a line: lowercase letters, the round stamped
 * as capital letters, and a final '\n' (no other '\n' in it). */
static int lines = 0;
/* With "prefixed", each message is a 4-byte big-endian length and the rest
 * (the round stamped after the length). */
static int prefixed = 0;

static void fill(unsigned char *buf, size_t size, int id, uint32_t round) {
  if (round == 0)
    for (size_t i = 0; i < size; i++)
      buf[i] = lines ? (unsigned char)('a' + (i * 31 + id * 7) % 26)
                     : (unsigned char)(i * 31 + id * 7);
  unsigned char stamp[4] = {round, round >> 8, round >> 16, round >> 24};
  for (size_t i = 0; i < 4 && i < size; i++) {
    if (lines) {
      buf[i] = (unsigned char)('A' + ((stamp[i] ^ id) & 15));
      if (size > 9) buf[size - 2 - i] = (unsigned char)('A' + (stamp[i] & 15));
    } else {
      buf[(prefixed ? 4 : 0) + i] = stamp[i] ^ (unsigned char)id;
      buf[size - 1 - i] = stamp[i];
    }
  }
  if (lines) buf[size - 1] = '\n';
  if (prefixed) {
    uint32_t n = (uint32_t)(size - 4);
    buf[0] = n >> 24; buf[1] = n >> 16; buf[2] = n >> 8; buf[3] = n;
  }
}

static int pingpong(const char *host, const char *port, int n, size_t size,
                    double seconds) {
  histogram = calloc(BUCKETS, sizeof *histogram);
  struct conn *conns = calloc(n, sizeof *conns);
  unsigned char **expect = calloc(n, sizeof *expect);
  unsigned char *inbuf = malloc(size > 65536 ? size : 65536);
  int ep = epoll_create1(0);
  for (int i = 0; i < n; i++) {
    if (tls_ctx) {
      conns[i].fd = connect_to(host, port, 0);
      conns[i].ssl = tls_start(conns[i].fd);
      int flags = fcntl(conns[i].fd, F_GETFL);
      if (fcntl(conns[i].fd, F_SETFL, flags | O_NONBLOCK) < 0) die("O_NONBLOCK");
    } else {
      conns[i].fd = connect_to(host, port, 1);
    }
    expect[i] = malloc(size);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    conns[i].events = EPOLLIN | EPOLLOUT;
  }
  uint64_t round_trips = 0, mismatches = 0, errors = 0;
  double user0, sys0, user1, sys1;
  cpu(&user0, &sys0);
  double start = now(), deadline = start + seconds;
  for (int i = 0; i < n; i++) {
    fill(expect[i], size, i, 0);
    conns[i].started = now();
  }
  struct epoll_event events[256];
  int open = n;
  int stopping = 0;
  while (open > 0) {
    int k = epoll_wait(ep, events, 256, 100);
    if (k < 0 && errno != EINTR) die("epoll_wait");
    double t = now();
    if (t >= deadline) stopping = 1;
    for (int e = 0; e < k; e++) {
      struct conn *c = &conns[events[e].data.u32];
      int id = events[e].data.u32;
      if (c->fd < 0) continue;
      if ((events[e].events & EPOLLOUT) && c->sent < size) {
        ssize_t w = io_write(c, expect[id] + c->sent, size - c->sent);
        if (w > 0) c->sent += w;
        else if (w != -2) { errors++; conn_close(c); open--; continue; }
        if (c->sent == size) watch(ep, c, id, EPOLLIN);
      }
      /* TLS may hold decrypted bytes the socket no longer signals: read
       * until it would block. */
      for (int more = 1; more && c->fd >= 0 &&
                         (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR));
           more = c->ssl != NULL) {
        ssize_t r = io_read(c, inbuf, size - c->received);
        if (r <= 0) {
          if (r == -2) break;
          errors++; conn_close(c); open--; break;
        }
        if (memcmp(inbuf, expect[id] + c->received, r) != 0) mismatches++;
        c->received += r;
        if (c->received == size) {
          /* (TLS reads on past the event: its own time then.) */
          record((c->ssl ? now() : t) - c->started);
          round_trips++;
          if (stopping) { conn_close(c); open--; break; }
          c->round++;
          fill(expect[id], size, id, c->round);
          c->sent = c->received = 0;
          c->started = now();
          ssize_t w = io_write(c, expect[id], size);
          if (w > 0) c->sent = w;
          watch(ep, c, id, c->sent < size ? EPOLLIN | EPOLLOUT : EPOLLIN);
        }
      }
    }
  }
  double elapsed = now() - start;
  cpu(&user1, &sys1);
  printf("{\"mode\":\"pingpong\",\"connections\":%d,\"size\":%zu,\"seconds\":%.3f,"
         "\"round_trips\":%lu,\"rate\":%.1f,\"p50_us\":%.0f,\"p90_us\":%.0f,"
         "\"p99_us\":%.0f,\"max_us\":%lu,\"errors\":%lu,\"mismatches\":%lu,"
         "\"cpu_s\":%.3f}\n",
         n, size, elapsed, round_trips, round_trips / elapsed, percentile(0.5),
         percentile(0.9), percentile(0.99), max_us, errors, mismatches,
         (user1 - user0) + (sys1 - sys0));
  return mismatches || errors ? 1 : 0;
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13; x ^= x >> 7; x ^= x << 17;
  return *s = x;
}

static void prng_fill(uint64_t *s, unsigned char *buf, size_t size) {
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = xorshift(s);
    memcpy(buf + i, &v, size - i < 8 ? size - i : 8);
  }
}

/* The stream's bytes: a pseudo-random pattern made once and repeated. Its
 * period is an odd size, so no read or write size lines up with it, and long
 * enough that a lost, repeated or reordered run of bytes shows as a mismatch
 * (and a lost one as a short count). Generating the bytes as they were sent
 * took 40% of the generator's time and made it the bottleneck. */
enum { PERIOD = 16 * 1024 * 1024 + 7 };

static int stream(const char *host, const char *port, uint64_t total) {
  int fd = connect_to(host, port, 1);
  enum { BLOCK = 256 * 1024 };
  static unsigned char in[BLOCK];
  unsigned char *pattern = malloc(PERIOD);
  uint64_t seed = 88172645463325252ull;
  prng_fill(&seed, pattern, PERIOD);
  uint64_t sent = 0, received = 0, mismatches = 0;
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  double user0, sys0, user1, sys1;
  cpu(&user0, &sys0);
  double start = now();
  int half_closed = 0, done = 0, errors = 0;
  while (!done) {
    struct epoll_event events[4];
    int k = epoll_wait(ep, events, 4, 1000);
    if (k < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < k; e++) {
      if ((events[e].events & EPOLLOUT) && !half_closed) {
        while (sent < total) {
          size_t at = sent % PERIOD;
          size_t len = PERIOD - at < BLOCK ? PERIOD - at : BLOCK;
          if (total - sent < len) len = total - sent;
          ssize_t w = write(fd, pattern + at, len);
          if (w < 0) { if (errno == EAGAIN) break; errors++; done = 1; break; }
          sent += w;
        }
        if (sent == total && !half_closed) {
          shutdown(fd, SHUT_WR);
          half_closed = 1;
          struct epoll_event ev2 = {.events = EPOLLIN};
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev2);
        }
      }
      if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (;;) {
          ssize_t r = read(fd, in, BLOCK);
          if (r < 0) { if (errno != EAGAIN) { errors++; done = 1; } break; }
          if (r == 0) { done = 1; break; }
          size_t off = 0;
          while (off < (size_t)r) {
            size_t at = received % PERIOD;
            size_t take = r - off < PERIOD - at ? r - off : PERIOD - at;
            if (received + take > total || memcmp(in + off, pattern + at, take) != 0)
              mismatches++;
            off += take;
            received += take;
          }
        }
      }
    }
  }
  double elapsed = now() - start;
  cpu(&user1, &sys1);
  printf("{\"mode\":\"stream\",\"bytes\":%lu,\"received\":%lu,\"seconds\":%.3f,"
         "\"mb_per_s\":%.1f,\"mismatches\":%lu,\"errors\":%d,\"cpu_s\":%.3f}\n",
         total, received, elapsed, received / elapsed / 1e6, mismatches, errors,
         (user1 - user0) + (sys1 - sys0));
  free(pattern);
  return received == total && !mismatches && !errors ? 0 : 1;
}

static int idle(const char *host, const char *port, int n) {
  int *fds = calloc(n, sizeof *fds);
  for (int i = 0; i < n; i++) {
    fds[i] = connect_to(host, port, 0);
    char byte = 'x';
    if (write(fds[i], &byte, 1) != 1) die("write");
    if (read(fds[i], &byte, 1) != 1) die("read");
  }
  printf("ready\n");
  fflush(stdout);
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {}
  for (int i = 0; i < n; i++) close(fds[i]);
  return 0;
}

int main(int argc, char **argv) {
  struct rlimit rl = {65536, 65536};
  setrlimit(RLIMIT_NOFILE, &rl);
  if ((argc == 7 || (argc == 8 && (strcmp(argv[7], "lines") == 0 ||
                                    strcmp(argv[7], "prefixed") == 0 ||
                                    strcmp(argv[7], "tls") == 0))) &&
      strcmp(argv[1], "pingpong") == 0) {
    lines = argc == 8 && strcmp(argv[7], "lines") == 0;
    prefixed = argc == 8 && strcmp(argv[7], "prefixed") == 0;
    if (prefixed && strtoul(argv[5], 0, 10) < 12) {
      fprintf(stderr, "loadgen: prefixed messages need SIZE >= 12\n");
      return 2;
    }
    if (argc == 8 && strcmp(argv[7], "tls") == 0) {
#ifdef WITH_TLS
      tls_ctx = SSL_CTX_new(TLS_client_method());
      SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
      SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
#else
      tls_start(-1);
#endif
    }
    return pingpong(argv[2], argv[3], atoi(argv[4]), strtoul(argv[5], 0, 10), atof(argv[6]));
  }
  if (argc == 5 && strcmp(argv[1], "stream") == 0)
    return stream(argv[2], argv[3], strtoull(argv[4], 0, 10));
  if (argc == 5 && strcmp(argv[1], "idle") == 0)
    return idle(argv[2], argv[3], atoi(argv[4]));
  fprintf(stderr,
          "usage: loadgen pingpong HOST PORT CONNECTIONS SIZE SECONDS [lines|prefixed|tls]\n"
          "       loadgen stream HOST PORT BYTES\n"
          "       loadgen idle HOST PORT CONNECTIONS\n");
  return 2;
}

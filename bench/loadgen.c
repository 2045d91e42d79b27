/*
 * loadgen: the benchmark's load generator in C, for Linux. It speaks the
 * command line of bench/load.ts and prints the same JSON line, but drives
 * every connection from one thread with epoll and non-blocking sockets, so
 * that the client needs far less than a core where load.ts needed all of it.
 *
 * It only ever connects to 127.0.0.1, opens at most 10000 connections and
 * measures for at most 600 s; a watchdog alarm ends it if it ever overruns.
 *
 * Modes (--mode, default keepalive):
 *
 *   keepalive  C connections, each with one request in flight: write the
 *              line, read the reply line, record the latency, repeat.
 *   connect    C slots, each a closed loop of new connections: connect,
 *              write one line, read the reply line, close, repeat. The
 *              latency runs from connect() to the reply. The JSON adds
 *              connect_errors and time_wait_max (TCP sockets in TIME_WAIT,
 *              the most seen in /proc/net/sockstat during the run) and
 *              slowest_second (replies in the slowest whole second). The
 *              client closes first, so its ports wait in TIME_WAIT; with
 *              --sources N the connections come from 127.0.0.1 ...
 *              127.0.0.N in turn (bound with IP_BIND_ADDRESS_NO_PORT, so
 *              the kernel still picks the port), N times the ports.
 *   idle       needs --server-pid: a keepalive warmup over min(C, 16)
 *              connections, then the server's VmRSS (/proc/PID/status),
 *              then C connections that each send one request, read its
 *              reply and stay open and idle (at most 128 being set up at
 *              once); VmRSS again once all are idle and after holding them
 *              --seconds S. The JSON adds idle_conns, open_at_end,
 *              rss_before_kib, rss_loaded_kib, rss_idle_kib, open_seconds;
 *              rps is 0 and seconds is the hold.
 *
 * Reply checks, as load.ts: each reply must be the --expect line (default
 * "Hello, Plumber"), the first of a connection compared byte by byte, the
 * others by length; --expect "" takes any one line. Bytes after a reply's \n
 * that do not end a line (a prompt) start the next reply; a whole second
 * line is an error. --greeting reads and drops one line after connecting.
 *
 * --server-pid PID adds server_cpu_ms, the user+system CPU time of PID in
 * the measured window (from /proc/PID/stat); with --server-tree also that of
 * its children (/proc/PID/task/PID/children) and of those it reaped.
 * machine_cpu_ms is the busy time of all processors in the window (/proc/stat):
 * what is left after cpu_ms and server_cpu_ms, other processes took.
 *
 *   cc -O2 -o bench/results/loadgen bench/loadgen.c
 *   bench/results/loadgen --port 12345 --conns 16 --seconds 5
 *   bench/results/loadgen --mode connect --port 12345 --conns 16 --seconds 5
 *   bench/results/loadgen --mode idle --port 12345 --conns 10000 --server-pid 4242
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOSTNAME "127.0.0.1"
#define MAX_CONNS 10000
#define MAX_SECONDS 600
/* How long in-flight requests may take to finish once the window closed. */
#define DRAIN_MS 2000
/* How long the keepalive connects (and the idle mode's opening) may take. */
#define CONNECT_LIMIT_MS 10000
#define IDLE_OPEN_LIMIT_MS 20000
/* Connections between connect and reply at once in idle mode. */
#define IDLE_PENDING 128
/* Connections of the idle mode's warmup, at most. */
#define IDLE_WARMUP_CONNS 16
/* A connect-mode slot waits this long after an error before it tries again. */
#define RETRY_MS 10
/* How often the connect mode samples /proc/net/sockstat. */
#define SOCKSTAT_MS 250
#define MAX_EVENTS 512
#define MAX_MESSAGES 32

enum mode { KEEPALIVE, CONNECT, IDLE };
enum phase { CONNECTING, WARMUP, MEASURE, STOP };
enum state {
  FREE,       /* no socket */
  WAITING,    /* connect mode: no socket, retries at retry_at */
  OPENING,    /* connect() in progress */
  GREETING,   /* reading the greeting line */
  READY,      /* connected, waiting for the run to start (keepalive) */
  WRITING,    /* writing the request */
  READING,    /* reading the reply */
  IDLE_OPEN,  /* idle mode: answered, held open */
};

struct conn {
  int fd;
  enum state state;
  uint32_t events;   /* what epoll watches for */
  int first;         /* no reply checked yet on this connection */
  size_t sent;       /* bytes of the request written */
  size_t held;       /* bytes in buf: the current reply and what follows */
  size_t scanned;    /* bytes of buf known to hold no \n */
  int64_t start_ns;  /* when the request (connect mode: the connect) started */
  int64_t retry_at;  /* connect mode: when a WAITING slot tries again */
  unsigned char *buf;
};

struct options {
  enum mode mode;
  int port;
  int conns;
  double seconds;
  double warmup;
  char *request;
  size_t request_len;
  char *expect;
  size_t expect_len;
  int greeting;
  long server_pid;
  int server_tree;
  int sources;
};

static struct options opt;
static struct conn *conns;
static size_t buf_size;
static int epfd = -1;
static enum mode mode;
static enum phase phase = CONNECTING;
static int n_busy;     /* connections in OPENING, GREETING, WRITING or READING */
static int n_waiting;  /* connect-mode slots in WAITING */
static int n_open;     /* sockets open */
static int n_idle;     /* idle mode: connections answered and held */
static int n_failed;   /* connections given up (keepalive, idle) */
static long requests;
static long errors;
static long connect_errors;
static long time_wait_max = -1;
static int64_t measure_start;        /* CLOCK_MONOTONIC ns */
static long per_second[MAX_SECONDS]; /* replies in each second of the measured window */
static struct sockaddr_in target;

static struct {
  char text[200];
  long count;
} messages[MAX_MESSAGES];
static int n_messages;
static long other_messages;

/* ---- time, CPU, /proc ---- */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double own_cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

/* Reads a small file into buf (NUL-terminated); the length, or -1. */
static ssize_t read_small_file(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  size_t n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = '\0';
  return (ssize_t)n;
}

/* User+system ticks in a /proc/PID/stat line; with reaped, cutime+cstime too. -1 when unreadable. */
static long long stat_ticks(long pid, int reaped) {
  char path[64], text[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  if (read_small_file(path, text, sizeof text) <= 0) return -1;
  /* The command name is in parentheses and may hold spaces: fields start after the last ')'. */
  char *p = strrchr(text, ')');
  if (p == NULL) return -1;
  p += 2; /* field 3, the state */
  long long value[18] = {0};
  for (int field = 3; field <= 17; field++) {
    char *end;
    if (field == 3) {
      end = strchr(p, ' ');
      if (end == NULL) return -1;
    } else {
      value[field] = strtoll(p, &end, 10);
      if (end == p) return -1;
    }
    p = end + 1;
  }
  long long ticks = value[14] + value[15];
  return reaped ? ticks + value[16] + value[17] : ticks;
}

/*
 * CPU time of the server so far in ms (10 ms steps), -1 when unknown. With
 * --server-tree: its own, its running children's (those of its main thread)
 * and its reaped children's.
 */
static double server_cpu_ms(void) {
  long tick = sysconf(_SC_CLK_TCK);
  if (opt.server_pid <= 0 || tick <= 0) return -1;
  if (!opt.server_tree) {
    long long ticks = stat_ticks(opt.server_pid, 0);
    return ticks < 0 ? -1 : (double)ticks * 1000.0 / (double)tick;
  }
  char path[96];
  static char children[65536];
  snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", opt.server_pid, opt.server_pid);
  if (read_small_file(path, children, sizeof children) < 0) return -1;
  long long ticks = stat_ticks(opt.server_pid, 1);
  if (ticks < 0) return -1;
  for (char *p = children, *end; *p != '\0'; p = end) {
    long child = strtol(p, &end, 10);
    if (end == p) break;
    long long t = stat_ticks(child, 0);
    if (t > 0) ticks += t; /* a child gone by now has no line */
  }
  return (double)ticks * 1000.0 / (double)tick;
}

/*
 * Busy CPU time of all processors so far in ms (user, nice, system, irq,
 * softirq and steal of the first line of /proc/stat), -1 when unknown.
 */
static double machine_cpu_ms(void) {
  char text[512];
  long tick = sysconf(_SC_CLK_TCK);
  if (tick <= 0 || read_small_file("/proc/stat", text, sizeof text) <= 0) return -1;
  if (strncmp(text, "cpu ", 4) != 0) return -1;
  long long v[8];
  char *p = text + 4;
  for (int i = 0; i < 8; i++) {
    char *end;
    v[i] = strtoll(p, &end, 10);
    if (end == p) return -1;
    p = end;
  }
  /* user nice system idle iowait irq softirq steal */
  long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  return (double)busy * 1000.0 / (double)tick;
}

/* VmRSS of the server in KiB, -1 when unknown. */
static long server_rss_kib(void) {
  char path[64], text[8192];
  snprintf(path, sizeof path, "/proc/%ld/status", opt.server_pid);
  if (read_small_file(path, text, sizeof text) <= 0) return -1;
  char *line = strstr(text, "\nVmRSS:");
  return line == NULL ? -1 : strtol(line + 7, NULL, 10);
}

/* TCP sockets in TIME_WAIT in this network namespace, -1 when unknown. */
static long time_wait_count(void) {
  char text[1024];
  if (read_small_file("/proc/net/sockstat", text, sizeof text) <= 0) return -1;
  char *tw = strstr(text, " tw ");
  return tw == NULL ? -1 : strtol(tw + 4, NULL, 10);
}

/* ---- latencies: microseconds, exact below 1024, then 512 buckets per power of two ---- */

#define SUB_BUCKETS 512
#define EXACT_LIMIT (2 * SUB_BUCKETS)
#define MAX_MICROS 0x7fffffffLL
#define BUCKETS (23 * SUB_BUCKETS)

static uint32_t histogram[BUCKETS];
static uint64_t histogram_total;

static int bucket_of(int64_t micros) {
  int64_t v = micros >= MAX_MICROS ? MAX_MICROS : micros > 0 ? micros : 0;
  if (v < EXACT_LIMIT) return (int)v;
  int shift = 31 - __builtin_clz((unsigned)v) - 9;
  return shift * SUB_BUCKETS + (int)(v >> shift);
}

static double lowest_of(int bucket) {
  if (bucket < EXACT_LIMIT) return bucket;
  int shift = bucket / SUB_BUCKETS - 1;
  return (double)(bucket - shift * SUB_BUCKETS) * (double)(1LL << shift);
}

static void record_ns(int64_t ns) {
  histogram[bucket_of(ns / 1000)]++;
  histogram_total++;
}

/* The latency in ms at or below which `fraction` of them lie, the middle of its bucket. */
static double percentile_ms(double fraction) {
  if (histogram_total == 0) return 0;
  double r = fraction * (double)histogram_total;
  uint64_t rank = (uint64_t)r;
  if ((double)rank < r) rank++;
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (int b = 0; b < BUCKETS; b++) {
    seen += histogram[b];
    if (seen >= rank) {
      double low = lowest_of(b);
      double width = lowest_of(b + 1) - low;
      return (low + (width - 1) / 2) / 1000;
    }
  }
  return MAX_MICROS / 1000.0;
}

/* ---- errors ---- */

static void fail(const char *format, ...) {
  char text[200];
  va_list args;
  va_start(args, format);
  vsnprintf(text, sizeof text, format, args);
  va_end(args);
  errors++;
  for (int i = 0; i < n_messages; i++) {
    if (strcmp(messages[i].text, text) == 0) {
      messages[i].count++;
      return;
    }
  }
  if (n_messages == MAX_MESSAGES) {
    other_messages++;
    return;
  }
  memcpy(messages[n_messages].text, text, sizeof text);
  messages[n_messages++].count = 1;
}

static void print_messages(void) {
  for (int i = 0; i < n_messages; i++) {
    fprintf(stderr, "load: %ld x %s\n", messages[i].count, messages[i].text);
  }
  if (other_messages > 0) fprintf(stderr, "load: %ld x other errors\n", other_messages);
}

/* A reply quoted for a message: at most 80 characters, escaped. */
static void quote(char *out, size_t size, const unsigned char *bytes, size_t length) {
  size_t o = 0;
  out[o++] = '"';
  for (size_t i = 0; i < length && o + 8 < size; i++) {
    if (o > 80) {
      memcpy(out + o, "...", 3);
      o += 3;
      break;
    }
    unsigned char b = bytes[i];
    if (b == '\n') o += (size_t)snprintf(out + o, size - o, "\\n");
    else if (b == '\r') o += (size_t)snprintf(out + o, size - o, "\\r");
    else if (b == '"' || b == '\\') o += (size_t)snprintf(out + o, size - o, "\\%c", b);
    else if (b < 0x20 || b == 0x7f) o += (size_t)snprintf(out + o, size - o, "\\u%04x", b);
    else out[o++] = (char)b;
  }
  out[o++] = '"';
  out[o] = '\0';
}

/* ---- connections ---- */

static int is_busy(enum state s) {
  return s == OPENING || s == GREETING || s == WRITING || s == READING;
}

static void set_state(struct conn *c, enum state s) {
  n_busy += is_busy(s) - is_busy(c->state);
  n_waiting += (s == WAITING) - (c->state == WAITING);
  c->state = s;
}

static void watch(struct conn *c, uint32_t events) {
  if (c->events == events) return;
  struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - conns)};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
    perror("load: epoll_ctl");
    exit(1);
  }
  c->events = events;
}

static void close_conn(struct conn *c) {
  if (c->fd >= 0) {
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    n_open--;
  }
  set_state(c, FREE);
}

/* Gives up a connection after an error: connect-mode slots try again a little later. */
static void drop(struct conn *c) {
  close_conn(c);
  if (mode == CONNECT && phase != STOP) {
    set_state(c, WAITING);
    c->retry_at = now_ns() + RETRY_MS * 1000000LL;
  } else {
    n_failed++;
  }
}

static void start_connect(struct conn *c);

/* Writes (the rest of) the request; then waits for the reply. */
static void send_request(struct conn *c) {
  if (c->state != WRITING) {
    if (mode == KEEPALIVE) c->start_ns = now_ns(); /* otherwise it runs from the connect */
    c->sent = 0;
    set_state(c, WRITING);
  }
  while (c->sent < opt.request_len) {
    ssize_t n = send(c->fd, opt.request + c->sent, opt.request_len - c->sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        watch(c, EPOLLOUT);
        return;
      }
      if (phase != STOP) fail("write failed: %s", strerror(errno));
      drop(c);
      return;
    }
    c->sent += (size_t)n;
  }
  set_state(c, READING);
  watch(c, EPOLLIN);
}

/* A connection may send its first request (after its greeting, if any). */
static void begin(struct conn *c) {
  if (phase == CONNECTING) {
    set_state(c, READY);
    watch(c, 0);
  } else {
    send_request(c);
  }
}

/* The connection is established. */
static void connected(struct conn *c) {
  c->first = 1;
  c->held = 0;
  c->scanned = 0;
  if (opt.greeting) {
    set_state(c, GREETING);
    watch(c, EPOLLIN);
  } else {
    begin(c);
  }
}

static void start_connect(struct conn *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (phase != STOP) fail("socket failed: %s", strerror(errno));
    connect_errors++;
    set_state(c, FREE);
    drop(c);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (opt.sources > 1) {
    /* The next source address of 127.0.0.1 ... 127.0.0.N; the port is picked at connect(). */
    static unsigned next_source;
    struct sockaddr_in source = {.sin_family = AF_INET};
    source.sin_addr.s_addr = htonl(0x7f000001u + next_source++ % (unsigned)opt.sources);
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&source, sizeof source) != 0) {
      if (phase != STOP) fail("bind to a source address failed: %s", strerror(errno));
      close(fd);
      connect_errors++;
      drop(c);
      return;
    }
  }
  c->fd = fd;
  n_open++;
  c->start_ns = now_ns();
  c->events = EPOLLOUT;
  struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)(c - conns)};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    perror("load: epoll_ctl");
    exit(1);
  }
  set_state(c, OPENING);
  if (connect(fd, (struct sockaddr *)&target, sizeof target) == 0) {
    connected(c);
  } else if (errno != EINPROGRESS) {
    connect_errors++;
    if (phase != STOP) fail("connect failed: %s", strerror(errno));
    drop(c);
  }
}

static void finish_connect(struct conn *c, uint32_t events) {
  int error = 0;
  if (events & (EPOLLERR | EPOLLHUP)) {
    socklen_t length = sizeof error;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    if (error == 0) error = ECONNRESET;
  }
  if (error != 0) {
    connect_errors++;
    if (phase != STOP) fail("connect failed: %s", strerror(error));
    drop(c);
    return;
  }
  connected(c);
}

/*
 * Drops the first `length` bytes, a line. What follows must not be a whole
 * line; a part of one (a prompt) stays as the start of the next reply.
 */
static int consume(struct conn *c, size_t length) {
  if (memchr(c->buf + length, '\n', c->held - length) != NULL) {
    if (phase != STOP) fail("more than one line for one request");
    drop(c);
    return 0;
  }
  memmove(c->buf, c->buf + length, c->held - length);
  c->held -= length;
  c->scanned = c->held;
  return 1;
}

/* A whole reply line of `length` bytes is at the start of buf. */
static void reply(struct conn *c, size_t length, int64_t now) {
  if (opt.expect_len > 0 &&
      (length != opt.expect_len || (c->first && memcmp(c->buf, opt.expect, length) != 0))) {
    char text[120];
    quote(text, sizeof text, c->buf, length);
    fail("unexpected reply %s", text);
  }
  if (!consume(c, length)) return;
  c->first = 0;
  if (phase == MEASURE) {
    requests++;
    record_ns(now - c->start_ns);
    int64_t second = (now - measure_start) / 1000000000;
    if (second >= 0 && second < MAX_SECONDS) per_second[second]++;
  }
  switch (mode) {
  case KEEPALIVE:
    if (phase == STOP) close_conn(c);
    else send_request(c);
    break;
  case CONNECT:
    close_conn(c);
    if (phase != STOP) start_connect(c);
    break;
  case IDLE:
    set_state(c, IDLE_OPEN);
    n_idle++;
    break;
  }
}

/* Reads what the server sent; handles a greeting or reply once a line is whole. */
static void receive(struct conn *c, int64_t now) {
  if (c->held == buf_size) {
    if (phase != STOP) fail("reply longer than %zu bytes", buf_size);
    drop(c);
    return;
  }
  ssize_t n = recv(c->fd, c->buf + c->held, buf_size - c->held, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    if (phase != STOP) fail("read failed: %s", strerror(errno));
    drop(c);
    return;
  }
  if (c->state == IDLE_OPEN) {
    fail(n == 0 ? "server closed an idle connection" : "server sent bytes to an idle connection");
    drop(c);
    return;
  }
  if (n == 0) {
    if (phase != STOP) fail("server closed the connection");
    drop(c);
    return;
  }
  c->held += (size_t)n;
  unsigned char *lf = memchr(c->buf + c->scanned, '\n', c->held - c->scanned);
  if (lf == NULL) {
    c->scanned = c->held;
    return;
  }
  size_t length = (size_t)(lf - c->buf) + 1;
  if (c->state == GREETING) {
    if (consume(c, length)) begin(c);
  } else if (c->state == READING) {
    reply(c, length, now);
  }
}

static void handle(struct conn *c, uint32_t events, int64_t now) {
  switch (c->state) {
  case OPENING:
    finish_connect(c, events);
    break;
  case WRITING:
    send_request(c);
    break;
  case GREETING:
  case READING:
  case IDLE_OPEN:
    receive(c, now);
    break;
  case READY:
    if (events & (EPOLLERR | EPOLLHUP)) {
      fail("server closed the connection");
      drop(c);
    }
    break;
  default:
    break;
  }
}

/* ---- the event loop ---- */

static int never(void) { return 0; }
static int none_busy(void) { return n_busy == 0 && n_waiting == 0; }

static int64_t next_sockstat;

/*
 * Handles events until `deadline` (CLOCK_MONOTONIC ns) or until done().
 * Wakes WAITING slots when their time comes and samples TIME_WAIT in connect mode.
 */
static void loop_until(int64_t deadline, int (*done)(void)) {
  static struct epoll_event events[MAX_EVENTS];
  for (;;) {
    if (done()) return;
    int64_t now = now_ns();
    if (now >= deadline) return;
    int64_t wake = deadline;
    if (n_waiting > 0) {
      for (int i = 0; i < opt.conns; i++) {
        struct conn *c = &conns[i];
        if (c->state != WAITING) continue;
        if (c->retry_at <= now) {
          set_state(c, FREE);
          if (phase != STOP) start_connect(c);
        } else if (c->retry_at < wake) {
          wake = c->retry_at;
        }
      }
    }
    if (mode == CONNECT) {
      if (now >= next_sockstat) {
        long tw = time_wait_count();
        if (tw > time_wait_max) time_wait_max = tw;
        next_sockstat = now + SOCKSTAT_MS * 1000000LL;
      }
      if (next_sockstat < wake) wake = next_sockstat;
    }
    int timeout = wake <= now ? 0 : (int)((wake - now + 999999) / 1000000);
    int n = epoll_wait(epfd, events, MAX_EVENTS, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("load: epoll_wait");
      exit(1);
    }
    now = now_ns();
    for (int i = 0; i < n; i++) handle(&conns[events[i].data.u32], events[i].events, now);
  }
}

static int64_t after_ms(double ms) { return now_ns() + (int64_t)(ms * 1e6); }

/* ---- the command line ---- */

static void usage(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("load: ", stderr);
  vfprintf(stderr, format, args);
  va_end(args);
  fputs("\nusage: loadgen --port N [--conns C] [--seconds S] [--warmup W] [--line Plumber] "
        "[--expect \"Hello, Plumber\"] [--greeting] [--host 127.0.0.1] "
        "[--server-pid PID [--server-tree]] [--mode keepalive|connect|idle] [--sources N]\n",
        stderr);
  exit(2);
}

static double number_flag(const char *value, const char *name, double min, double max,
                          int integer) {
  char *end;
  double n = strtod(value, &end);
  int blank = 1;
  for (const char *p = value; *p != '\0'; p++) blank &= *p == ' ' || *p == '\t';
  if (blank || *end != '\0' || !(n >= min && n <= max) || (integer && n != (double)(long long)n)) {
    usage("--%s must be a %s from %g to %g, got \"%s\"", name, integer ? "whole number" : "number",
          min, max, value);
  }
  return n;
}

static char *with_newline(const char *text, size_t *length) {
  size_t n = strlen(text);
  char *out = malloc(n + 2);
  if (out == NULL) exit(1);
  memcpy(out, text, n);
  out[n] = '\n';
  out[n + 1] = '\0';
  *length = n + 1;
  return out;
}

static void parse_options(int argc, char **argv) {
  const char *port = NULL, *conns_text = NULL, *seconds = NULL, *warmup = NULL, *pid = NULL;
  const char *sources = NULL;
  const char *line = "Plumber", *expect = "Hello, Plumber", *mode_text = "keepalive";
  for (int i = 1; i < argc; i++) {
    char *arg = argv[i];
    if (strncmp(arg, "--", 2) != 0) usage("unexpected argument \"%s\"", arg);
    char *name = arg + 2;
    char *value = strchr(name, '=');
    size_t name_len = value == NULL ? strlen(name) : (size_t)(value - name);
#define IS(flag) (name_len == strlen(flag) && strncmp(name, flag, name_len) == 0)
    if (IS("greeting") || IS("server-tree")) {
      if (value != NULL) usage("--%.*s takes no value", (int)name_len, name);
      if (IS("greeting")) opt.greeting = 1;
      else opt.server_tree = 1;
      continue;
    }
    if (value != NULL) {
      value++;
    } else {
      if (i + 1 >= argc) usage("--%s needs a value", name);
      value = argv[++i];
    }
    if (IS("host")) {
      if (strcmp(value, HOSTNAME) != 0) usage("only %s may be loaded, got --host %s", HOSTNAME, value);
    } else if (IS("port")) port = value;
    else if (IS("conns")) conns_text = value;
    else if (IS("seconds")) seconds = value;
    else if (IS("warmup")) warmup = value;
    else if (IS("line")) line = value;
    else if (IS("expect")) expect = value;
    else if (IS("server-pid")) pid = value;
    else if (IS("mode")) mode_text = value;
    else if (IS("sources")) sources = value;
    else usage("unknown option \"--%.*s\"", (int)name_len, name);
#undef IS
  }
  if (port == NULL) usage("--port is required");
  if (opt.server_tree && pid == NULL) usage("--server-tree needs --server-pid");
  if (strpbrk(line, "\r\n") != NULL || strpbrk(expect, "\r\n") != NULL) {
    usage("--line and --expect must be one line each");
  }
  if (strcmp(mode_text, "keepalive") == 0) opt.mode = KEEPALIVE;
  else if (strcmp(mode_text, "connect") == 0) opt.mode = CONNECT;
  else if (strcmp(mode_text, "idle") == 0) opt.mode = IDLE;
  else usage("--mode must be keepalive, connect or idle, got \"%s\"", mode_text);
  if (opt.mode == IDLE && pid == NULL) usage("--mode idle needs --server-pid");
  opt.port = (int)number_flag(port, "port", 1, 65535, 1);
  double count = conns_text == NULL ? 16 : number_flag(conns_text, "conns", 1, 1e9, 1);
  if (count > MAX_CONNS) {
    fprintf(stderr, "load: --conns %.0f capped at %d\n", count, MAX_CONNS);
    count = MAX_CONNS;
  }
  opt.conns = (int)count;
  opt.sources = sources == NULL ? 1 : (int)number_flag(sources, "sources", 1, 250, 1);
  opt.seconds = seconds == NULL ? 5 : number_flag(seconds, "seconds", 0.1, MAX_SECONDS, 0);
  opt.warmup = warmup == NULL ? 1 : number_flag(warmup, "warmup", 0, MAX_SECONDS, 0);
  opt.server_pid = pid == NULL ? 0 : (long)number_flag(pid, "server-pid", 1, 2147483648.0, 1);
  opt.request = with_newline(line, &opt.request_len);
  if (*expect == '\0') {
    opt.expect = "";
    opt.expect_len = 0;
  } else {
    opt.expect = with_newline(expect, &opt.expect_len);
  }
}

/* Makes sure this process may hold the connections (and a few more files) open. */
static void raise_file_limit(void) {
  struct rlimit limit;
  rlim_t needed = (rlim_t)opt.conns + 32;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) return;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
    fprintf(stderr, "load: --conns %d needs %lu open files, the hard limit (ulimit -Hn) is %lu\n",
            opt.conns, (unsigned long)needed, (unsigned long)limit.rlim_max);
    exit(1);
  }
  limit.rlim_cur = needed;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    perror("load: setrlimit");
    exit(1);
  }
}

/* ---- output ---- */

/* Prints n rounded to 3 decimals, without trailing zeros, as JSON does. */
static void print_number(const char *name, double n) {
  char text[64];
  snprintf(text, sizeof text, "%.3f", n);
  char *end = text + strlen(text) - 1;
  while (*end == '0') *end-- = '\0';
  if (*end == '.') *end = '\0';
  if (strcmp(text, "-0") == 0) strcpy(text, "0");
  printf(",\"%s\":%s", name, text);
}

/* ---- the runs ---- */

/* Opens `count` connections at once and waits until each is connected or failed. */
static void connect_all(int count) {
  phase = CONNECTING;
  for (int i = 0; i < count; i++) start_connect(&conns[i]);
  loop_until(after_ms(CONNECT_LIMIT_MS), none_busy);
  for (int i = 0; i < count; i++) {
    if (is_busy(conns[i].state)) {
      fail("connect timed out after %d ms", CONNECT_LIMIT_MS);
      drop(&conns[i]);
    }
  }
}

/* Lets the requests in flight finish (at most DRAIN_MS), then closes everything. */
static void drain(void) {
  phase = STOP;
  loop_until(after_ms(DRAIN_MS), none_busy);
  for (int i = 0; i < opt.conns; i++) {
    if (conns[i].state == WAITING) set_state(&conns[i], FREE);
    close_conn(&conns[i]);
  }
}

/* Idle mode: sets up `opt.conns` idle connections, at most IDLE_PENDING at a time. */
static int next_to_open;
static int opening_done(void) {
  while (next_to_open < opt.conns && n_busy < IDLE_PENDING) start_connect(&conns[next_to_open++]);
  return next_to_open == opt.conns && n_busy == 0;
}

int main(int argc, char **argv) {
  parse_options(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  /* A watchdog: whatever happens, the process ends. */
  alarm((unsigned)(opt.warmup + opt.seconds) + CONNECT_LIMIT_MS / 1000 + IDLE_OPEN_LIMIT_MS / 1000 +
        DRAIN_MS / 1000 + 30);
  raise_file_limit();
  buf_size = opt.expect_len * 2 > 4096 ? opt.expect_len * 2 : 4096;
  conns = calloc((size_t)opt.conns, sizeof *conns);
  unsigned char *buffers = malloc((size_t)opt.conns * buf_size);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (conns == NULL || buffers == NULL || epfd < 0) {
    perror("load: setup");
    return 1;
  }
  for (int i = 0; i < opt.conns; i++) {
    conns[i].fd = -1;
    conns[i].buf = buffers + (size_t)i * buf_size;
  }
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)opt.port);
  inet_pton(AF_INET, HOSTNAME, &target.sin_addr);

  int reported_conns = opt.conns;
  long rss_before = -1, rss_loaded = -1, rss_idle = -1;
  int open_at_end = 0, idle_conns = 0;
  double open_seconds = 0;
  mode = opt.mode;

  if (mode == IDLE) {
    /* Warm the server up over a few keepalive connections, then close them. */
    if (opt.warmup > 0) {
      int count = opt.conns < IDLE_WARMUP_CONNS ? opt.conns : IDLE_WARMUP_CONNS;
      mode = KEEPALIVE;
      connect_all(count);
      phase = WARMUP;
      for (int i = 0; i < count; i++) if (conns[i].state == READY) send_request(&conns[i]);
      loop_until(after_ms(opt.warmup * 1000), never);
      drain();
      n_failed = 0;
      mode = IDLE;
      loop_until(after_ms(500), never);
    }
    rss_before = server_rss_kib();
    phase = MEASURE;
    int64_t open_start = now_ns();
    loop_until(open_start + IDLE_OPEN_LIMIT_MS * 1000000LL, opening_done);
    open_seconds = (double)(now_ns() - open_start) / 1e9;
    for (int i = 0; i < opt.conns; i++) {
      if (i >= next_to_open) {
        fail("not opened within %d ms", IDLE_OPEN_LIMIT_MS);
      } else if (is_busy(conns[i].state)) {
        fail("not answered within %d ms", IDLE_OPEN_LIMIT_MS);
        drop(&conns[i]);
      }
    }
    idle_conns = n_idle;
    rss_loaded = server_rss_kib();
  } else if (mode == KEEPALIVE) {
    connect_all(opt.conns);
    reported_conns = opt.conns - n_failed;
    if (reported_conns == 0) {
      print_messages();
      fprintf(stderr, "load: no connection to %s:%d\n", HOSTNAME, opt.port);
      return 1;
    }
    phase = WARMUP;
    for (int i = 0; i < opt.conns; i++) if (conns[i].state == READY) send_request(&conns[i]);
    loop_until(after_ms(opt.warmup * 1000), never);
  } else {
    phase = WARMUP;
    for (int i = 0; i < opt.conns; i++) start_connect(&conns[i]);
    loop_until(after_ms(opt.warmup * 1000), never);
  }

  double server_start = opt.server_pid > 0 ? server_cpu_ms() : -1;
  if (mode != IDLE) phase = MEASURE;
  double machine_start = machine_cpu_ms();
  double cpu_start = own_cpu_ms();
  int64_t start = measure_start = now_ns();
  loop_until(start + (int64_t)(opt.seconds * 1e9), never);
  if (mode == IDLE) phase = STOP;
  double seconds = (double)(now_ns() - start) / 1e9;
  double cpu_ms = own_cpu_ms() - cpu_start;
  double machine_end = machine_cpu_ms();
  double server_end = opt.server_pid > 0 ? server_cpu_ms() : -1;

  if (mode == IDLE) {
    rss_idle = server_rss_kib();
    for (int i = 0; i < opt.conns; i++) {
      struct conn *c = &conns[i];
      if (c->state != IDLE_OPEN) continue;
      char byte;
      ssize_t n = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && errno == EAGAIN) open_at_end++;
      else fail(n == 0 ? "server closed an idle connection" : "idle connection broken");
    }
    drain();
  } else {
    phase = STOP;
    drain();
  }
  if (mode == CONNECT) {
    long tw = time_wait_count();
    if (tw > time_wait_max) time_wait_max = tw;
  }

  print_messages();
  printf("{\"requests\":%ld", requests);
  print_number("seconds", seconds);
  printf(",\"rps\":%.0f", mode == IDLE ? 0 : (double)requests / seconds);
  print_number("p50_ms", percentile_ms(0.5));
  print_number("p99_ms", percentile_ms(0.99));
  print_number("p999_ms", percentile_ms(0.999));
  print_number("max_ms", percentile_ms(1.0));
  printf(",\"errors\":%ld,\"cpu_ms\":%.0f,\"conns\":%d", errors, cpu_ms, reported_conns);
  if (server_start >= 0 && server_end >= 0) print_number("server_cpu_ms", server_end - server_start);
  if (machine_start >= 0 && machine_end >= 0) {
    print_number("machine_cpu_ms", machine_end - machine_start);
  }
  if (mode == CONNECT) {
    /* The slowest whole second shows whether the rate held over the window. */
    long slowest = -1;
    for (int i = 0; i < (int)seconds && i < MAX_SECONDS; i++) {
      if (slowest < 0 || per_second[i] < slowest) slowest = per_second[i];
    }
    printf(",\"connect_errors\":%ld,\"time_wait_max\":%ld,\"slowest_second\":%ld",
           connect_errors, time_wait_max, slowest);
  }
  if (mode == IDLE) {
    printf(",\"idle_conns\":%d,\"open_at_end\":%d,\"rss_before_kib\":%ld,\"rss_loaded_kib\":%ld,"
           "\"rss_idle_kib\":%ld",
           idle_conns, open_at_end, rss_before, rss_loaded, rss_idle);
    print_number("open_seconds", open_seconds);
  }
  printf("}\n");
  return 0;
}

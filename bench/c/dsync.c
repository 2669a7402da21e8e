// What a commit costs in CPU and time on this disk: N x (pwrite of SIZE bytes + fdatasync)
// (MODE 0), or N x pwrite on an O_DSYNC descriptor (MODE 1), appended to a zero-filled
// file; prints the latency percentiles and the CPU microseconds a commit (getrusage).
//
//   gcc -O2 -o /tmp/dsync bench/c/dsync.c && /tmp/dsync /tmp/dsync-file 3000 0 64
//   dsync FILE N MODE SIZE
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static double cpu_us(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: dsync FILE N MODE SIZE\n");
    return 2;
  }
  int n = atoi(argv[2]), mode = atoi(argv[3]), size = atoi(argv[4]);
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || n < 100 || size <= 0 || (long)n * size > (32L << 20)) {
    fprintf(stderr, "dsync: bad arguments or file\n");
    return 1;
  }
  static char zeros[1 << 16];
  for (int i = 0; i < 512; i++) {
    if (write(fd, zeros, sizeof zeros) != sizeof zeros) return 1;
  }
  fsync(fd);
  close(fd);
  fd = open(argv[1], O_WRONLY | (mode == 1 ? O_DSYNC : 0));
  double *took = malloc(n * sizeof(double));
  char *record = malloc(size);
  memset(record, 1, size);
  double cpu0 = cpu_us(), t0 = now_us();
  for (int i = 0; i < n; i++) {
    double t = now_us();
    if (pwrite(fd, record, size, (off_t)i * size) != size) return 1;
    if (mode == 0) fdatasync(fd);
    took[i] = now_us() - t;
  }
  double wall = now_us() - t0, cpu = cpu_us() - cpu0;
  qsort(took, n, sizeof(double), by_value);
  printf("%s %5dB: p50 %.0f p99 %.0f p99.9 %.0f us; cpu %.1f us a commit; %.0f commits/s\n", mode ? "O_DSYNC pwrite  " : "pwrite+fdatasync", size, took[n / 2], took[n * 99 / 100], took[n * 999 / 1000], cpu / n, n / wall * 1e6);
  return 0;
}

// The floor loop beside a writer (docs/BENCHMARKS.md, "Table and snapshot writes").
//
//   gcc -O2 -o /tmp/floor bench/c/floor.c && gcc -O2 -o /tmp/writer bench/c/writer.c
//   /tmp/writer /tmp/writer-file 64 128 2 12 & sleep 0.5; /tmp/floor /tmp/floor-file 3000; wait
//
// floor FILE N: N x (a 64-byte write + fdatasync) into a zero-filled file, with a 0.2 ms
// pause between them (a journal committing ~4,000 groups a second); prints the latency
// percentiles in microseconds.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: floor FILE N\n");
    return 2;
  }
  int n = atoi(argv[2]);
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || n < 100) {
    perror("floor");
    return 1;
  }
  static char zeros[1 << 16];
  for (int i = 0; i < 256; i++) {
    if (write(fd, zeros, sizeof zeros) != sizeof zeros) return 1;
  }
  fsync(fd);
  double *took = malloc(n * sizeof(double));
  char record[64];
  memset(record, 1, sizeof record);
  for (int i = 0; i < n; i++) {
    double t = now_us();
    if (pwrite(fd, record, sizeof record, (off_t)i * 64) != sizeof record) return 1;
    fdatasync(fd);
    took[i] = now_us() - t;
    usleep(200);
  }
  qsort(took, n, sizeof(double), by_value);
  printf("p50 %.0f p99 %.0f p99.9 %.0f max %.0f us\n", took[n / 2], took[n * 99 / 100], took[n * 999 / 1000], took[n - 1]);
  return 0;
}

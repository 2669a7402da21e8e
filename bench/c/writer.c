// A writer beside the floor loop (see floor.c): writes FILE at MBPS (0: as fast as it can)
// in pieces of CHUNK_KIB, starting again at byte 0 after each 64 MiB (with an fdatasync),
// for SECONDS, one of four ways:
//   0  fdatasync every 1 MiB (the table and snapshot writers without the native addon);
//   1  sync_file_range(WRITE) of each piece, never waiting;
//   2  as 1, then waiting for the piece before it (WAIT_BEFORE | WRITE | WAIT_AFTER): what
//      the node's table and snapshot writers do (JournalFile.writeBack);
//   3  as 2, waiting for the piece four back.
//
//   writer FILE MBPS CHUNK_KIB MODE SECONDS
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: writer FILE MBPS CHUNK_KIB MODE SECONDS\n");
    return 2;
  }
  double rate = atof(argv[2]) * 1e6;
  long chunk = atol(argv[3]) * 1024;
  int mode = atoi(argv[4]);
  double seconds = atof(argv[5]);
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || chunk <= 0) {
    perror("writer");
    return 1;
  }
  char *piece = malloc(chunk);
  for (long i = 0; i < chunk; i++) piece[i] = (char)rand();
  double t0 = now_s();
  long written = 0, at = 0, unsynced = 0;
  while (now_s() - t0 < seconds) {
    if (rate > 0) {
      double ahead = t0 + written / rate - now_s();
      if (ahead > 0) usleep((useconds_t)(ahead * 1e6));
    }
    if (pwrite(fd, piece, chunk, at) != chunk) return 1;
    at += chunk;
    written += chunk;
    unsynced += chunk;
    if (mode == 0) {
      if (unsynced >= (1 << 20)) {
        fdatasync(fd);
        unsynced = 0;
      }
    } else {
      sync_file_range(fd, at - chunk, chunk, SYNC_FILE_RANGE_WRITE);
      long lag = mode == 3 ? 4 : 1;
      if (mode >= 2 && at >= chunk * (lag + 1)) {
        sync_file_range(fd, at - chunk * (lag + 1), chunk, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      }
    }
    if (at >= (64L << 20)) {
      fdatasync(fd);
      at = 0;
      unsynced = 0;
    }
  }
  fdatasync(fd);
  printf("writer: %.0f MB/s\n", written / 1e6 / seconds);
  return 0;
}

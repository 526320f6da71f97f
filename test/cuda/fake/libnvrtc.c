// A stand-in for libnvrtc.so that compiles with nvcc, so the CUDA backend's NVRTC calls (program, options, log and
// PTX sizes) can be tested where only the toolkit's nvcc is installed (CI): `--gpu-architecture=compute_XX` and
// `-I…` pass through to `nvcc -ptx`, its messages become the program log.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SUCCESS = 0, INVALID_INPUT = 3, INVALID_PROGRAM = 4, COMPILATION = 6 };
typedef struct {
  char *source, *log, *ptx;
} Program;

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return strdup("");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = calloc(1, (size_t)n + 1);
  if (fread(text, 1, (size_t)n, f) != (size_t)n) text[0] = 0;
  fclose(f);
  return text;
}

int nvrtcCreateProgram(void **prog, const char *src, const char *name, int n, const char **headers,
                       const char **names) {
  if (!prog || !src || n || headers || names || !name) return INVALID_INPUT;
  Program *p = calloc(1, sizeof(Program));
  p->source = strdup(src);
  *prog = p;
  return SUCCESS;
}
int nvrtcCompileProgram(void *prog, int n, const char **options) {
  Program *p = prog;
  if (!p) return INVALID_PROGRAM;
  char dir[] = "/tmp/polygrad-fakenvrtc-XXXXXX";
  if (!mkdtemp(dir)) return INVALID_INPUT;
  char cu[64], ptx[64], log[64], cmd[4096];
  snprintf(cu, sizeof cu, "%s/k.cu", dir);
  snprintf(ptx, sizeof ptx, "%s/k.ptx", dir);
  snprintf(log, sizeof log, "%s/k.log", dir);
  FILE *f = fopen(cu, "w");
  fputs(p->source, f);
  fclose(f);
  int at = snprintf(cmd, sizeof cmd, "nvcc -ptx -o %s", ptx);
  for (int i = 0; i < n; i++) {
    const char *arch = "--gpu-architecture=";
    if (!strncmp(options[i], arch, strlen(arch))) at += snprintf(cmd + at, sizeof cmd - (size_t)at, " -arch=%s",
                                                                   options[i] + strlen(arch));
    else if (!strncmp(options[i], "-I", 2)) at += snprintf(cmd + at, sizeof cmd - (size_t)at, " '%s'", options[i]);
    else return INVALID_INPUT;
  }
  snprintf(cmd + at, sizeof cmd - (size_t)at, " %s </dev/null >%s 2>&1", cu, log);
  int failed = system(cmd);
  p->log = slurp(log);
  p->ptx = failed ? NULL : slurp(ptx);
  unlink(cu);
  unlink(ptx);
  unlink(log);
  rmdir(dir);
  return failed ? COMPILATION : SUCCESS;
}
int nvrtcGetProgramLogSize(void *prog, size_t *size) {
  Program *p = prog;
  *size = strlen(p->log ? p->log : "") + 1;
  return SUCCESS;
}
int nvrtcGetProgramLog(void *prog, char *log) {
  Program *p = prog;
  strcpy(log, p->log ? p->log : "");
  return SUCCESS;
}
int nvrtcGetPTXSize(void *prog, size_t *size) {
  Program *p = prog;
  if (!p->ptx) return INVALID_PROGRAM;
  *size = strlen(p->ptx) + 1;
  return SUCCESS;
}
int nvrtcGetPTX(void *prog, char *ptx) {
  Program *p = prog;
  if (!p->ptx) return INVALID_PROGRAM;
  strcpy(ptx, p->ptx);
  return SUCCESS;
}
int nvrtcDestroyProgram(void **prog) {
  Program *p = *prog;
  if (!p) return INVALID_PROGRAM;
  free(p->source);
  free(p->log);
  free(p->ptx);
  free(p);
  *prog = NULL;
  return SUCCESS;
}

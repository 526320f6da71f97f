// A stand-in for libnvrtc.so, so the CUDA backend's NVRTC calls (program, options, log and PTX sizes) can be tested
// without the real library. Built plain, it compiles with nvcc: `--gpu-architecture=compute_XX` and `-I…` pass
// through to `nvcc -ptx`, whose messages become the program log. Built with -DPG_EMULATE="<include dir>", it
// compiles for the CUDA emulator instead: g++ builds the source against the host headers there (pg_emu.h), with a
// pg_emu_NAME entry per kernel, into a shared library beside this one; the "PTX" it returns names that library and
// the kernels, which the stand-in driver runs on host threads.
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <libgen.h>
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
#ifdef PG_EMULATE
/** The kernels' names: the identifier before the parameter list of each `__global__ void`. */
static int kernel_names(const char *src, char names[][256], int max) {
  int n = 0;
  for (const char *at = strstr(src, "__global__"); at && n < max; at = strstr(at + 1, "__global__")) {
    const char *open = strchr(at, '(');
    if (!open) break;
    if (!strncmp(open - 17, "__launch_bounds__", 17)) open = strchr(strchr(open, ')'), '(');
    const char *end = open;
    while (end > at && isspace((unsigned char)end[-1])) end--;
    const char *start = end;
    while (start > at && (isalnum((unsigned char)start[-1]) || start[-1] == '_')) start--;
    snprintf(names[n++], 256, "%.*s", (int)(end - start), start);
  }
  return n;
}
/** Whether a source's threads wait: block barriers, or warp collectives (pg_mma_sync.h: mma.sync, ldmatrix). */
static int synchronizes(const char *src) {
  return strstr(src, "__syncthreads") || strstr(src, "wmma::") || strstr(src, "pg_mma_") || strstr(src, "pg_ldmatrix");
}
/** A fresh folder for modules, beside this library (so the test's temporary folder holds everything). */
static int module_dir(char *out, size_t size) {
  Dl_info info;
  if (!dladdr((void *)kernel_names, &info)) return 0;
  char self[4096];
  snprintf(self, sizeof self, "%s", info.dli_fname);
  snprintf(out, size, "%s/module-XXXXXX", dirname(self));
  return mkdtemp(out) != NULL;
}
#endif

int nvrtcCompileProgram(void *prog, int n, const char **options) {
  Program *p = prog;
  if (!p) return INVALID_PROGRAM;
  char dir[4096] = "/tmp/polygrad-fakenvrtc-XXXXXX";
#ifdef PG_EMULATE
  if (!module_dir(dir, sizeof dir)) return INVALID_INPUT;
#else
  if (!mkdtemp(dir)) return INVALID_INPUT;
#endif
  char cu[4200], out[4200], log[4200], cmd[16384];
  snprintf(cu, sizeof cu, "%s/k.cu", dir);
  snprintf(log, sizeof log, "%s/k.log", dir);
  FILE *f = fopen(cu, "w");
  fputs(p->source, f);
  int at;
#ifdef PG_EMULATE
  char names[64][256];
  int kernels = kernel_names(p->source, names, 64);
  for (int i = 0; i < kernels; i++)
    fprintf(f, "\nextern \"C\" int pg_emu_%s(void **p, const pg_emu_ctx *c, int *s) { return pg_emu_call(%s, p, c, s); }",
            names[i], names[i]);
  snprintf(out, sizeof out, "%s/k.so", dir);
  at = snprintf(cmd, sizeof cmd, "g++ -std=c++17 -O1 -w -shared -fPIC -I'%s' -include pg_emu.h -x c++ -o %s", PG_EMULATE,
                out);
#else
  snprintf(out, sizeof out, "%s/k.ptx", dir);
  at = snprintf(cmd, sizeof cmd, "nvcc -ptx -o %s", out);
#endif
  fclose(f);
  for (int i = 0; i < n; i++) {
    const char *arch = "--gpu-architecture=";
    if (!strncmp(options[i], arch, strlen(arch))) {
#ifndef PG_EMULATE
      at += snprintf(cmd + at, sizeof cmd - (size_t)at, " -arch=%s", options[i] + strlen(arch));
#endif
    } else if (!strncmp(options[i], "-I", 2)) {
#ifndef PG_EMULATE // the emulator's own headers stand for CUDA's
      at += snprintf(cmd + at, sizeof cmd - (size_t)at, " '%s'", options[i]);
#endif
    } else
      return INVALID_INPUT;
  }
  snprintf(cmd + at, sizeof cmd - (size_t)at, " %s </dev/null >%s 2>&1", cu, log);
  int failed = system(cmd);
  p->log = slurp(log);
#ifdef PG_EMULATE
  if (!failed) {
    size_t size = strlen(out) + 64 + (size_t)kernels * 300;
    p->ptx = calloc(1, size);
    int len = snprintf(p->ptx, size, "// polygrad CUDA emulator module\n.emulated %s\n%s", out,
                       synchronizes(p->source) ? ".sync\n" : "");
    for (int i = 0; i < kernels; i++) len += snprintf(p->ptx + len, size - (size_t)len, ".entry %s\n", names[i]);
  }
#else
  p->ptx = failed ? NULL : slurp(out);
  unlink(out);
#endif
  unlink(cu);
  unlink(log);
#ifndef PG_EMULATE
  rmdir(dir);
#endif
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

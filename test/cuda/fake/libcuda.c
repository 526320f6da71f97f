// A stand-in for libcuda.so.1 so the CUDA backend's driver calls can be tested where there is no GPU (CI): device
// memory is host memory, a module keeps its PTX entries and their parameter sizes, and every kernel launch, graph
// node, parameter update and graph launch is written to a text log (fake_log) with the parameter bytes the driver
// was given. A PTX module's kernels do not run: outputs keep what their buffers held. A module from the emulating
// NVRTC (libnvrtc.c built with PG_EMULATE) is a host library whose kernels do run: each launch runs its blocks one
// after another, a block's threads in turn (as fibers where the kernel synchronizes).
// Arguments the real driver would reject (duplicate or foreign graph dependencies, a node of another graph, unknown
// handles) fail with its error codes.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ucontext.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
enum { OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, INVALID_IMAGE = 200, INVALID_HANDLE = 400, NOT_FOUND = 500 };

static char *log_text;
static size_t log_len, log_cap;
static void say(const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    size_t room = log_cap - log_len;
    int n = vsnprintf(log_text ? log_text + log_len : NULL, room, fmt, ap);
    va_end(ap);
    if (log_text && (size_t)n < room) {
      log_len += (size_t)n;
      return;
    }
    log_cap = (log_cap + (size_t)n + 1) * 2;
    log_text = realloc(log_text, log_cap);
  }
}
const char *fake_log(void) { return log_text ? log_text : ""; }
void fake_clear(void) {
  log_len = 0;
  if (log_text) log_text[0] = 0;
}
/** Device memory still allocated, in bytes. */
static size_t live_bytes;
size_t fake_live_bytes(void) { return live_bytes; }
/** Writes two words at a device address, as a kernel's failed index check writes its status word. */
void fake_poke(uint64_t addr, uint32_t code, uint32_t value) {
  uint32_t *p = (uint32_t *)(uintptr_t)addr;
  p[0] = code;
  p[1] = value;
}

CUresult cuInit(unsigned flags) { return flags ? INVALID_VALUE : OK; }
CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return OK;
}
CUresult cuDeviceGet(int *dev, int ordinal) {
  *dev = ordinal;
  return ordinal ? INVALID_VALUE : OK;
}
CUresult cuDeviceGetName(char *name, int len, int dev) {
  snprintf(name, (size_t)len, "Fake CUDA device");
  return dev ? INVALID_VALUE : OK;
}
CUresult cuDeviceGetAttribute(int *v, int attr, int dev) {
  switch (attr) {
    case 1: *v = 1024; break;          // max threads per block
    case 5: *v = 2147483647; break;    // max grid x
    case 6: *v = 65535; break;         // max grid y
    case 8: *v = 49152; break;         // shared memory per block
    case 10: *v = 32; break;           // warp size
    case 16: *v = 132; break;          // SMs
    case 39: *v = 2048; break;         // resident threads per SM
    case 75: *v = 9; break;            // compute capability
    case 76: *v = 0; break;
    case 97: *v = 232448; break;       // shared memory per block, opt-in
    default: return INVALID_VALUE;
  }
  return dev ? INVALID_VALUE : OK;
}
static int context;
CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev) {
  *ctx = &context;
  return dev ? INVALID_VALUE : OK;
}
CUresult cuCtxSetCurrent(void *ctx) { return ctx == &context ? OK : INVALID_HANDLE; }
CUresult cuCtxSynchronize(void) {
  say("sync\n");
  return OK;
}

/** Allocations carry their size in front, so frees can be counted. */
CUresult cuMemAlloc_v2(uint64_t *ptr, size_t bytes) {
  if (!bytes) return INVALID_VALUE;
  size_t *p = calloc(1, bytes + 16);
  if (!p) return OUT_OF_MEMORY;
  p[0] = bytes;
  live_bytes += bytes;
  *ptr = (uint64_t)(uintptr_t)(p + 2);
  return OK;
}
CUresult cuMemFree_v2(uint64_t ptr) {
  size_t *p = (size_t *)(uintptr_t)ptr - 2;
  live_bytes -= p[0];
  free(p);
  return OK;
}
CUresult cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t bytes) {
  memcpy((void *)(uintptr_t)dst, src, bytes);
  return OK;
}
CUresult cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t bytes) {
  memcpy(dst, (const void *)(uintptr_t)src, bytes);
  return OK;
}

#define MAX_PARAMS 128 // pg_emu.h asserts an emulated kernel has no more
/** Each parameter's bytes are kept in a slot of their own, aligned for any scalar. */
#define SLOT 16
typedef struct {
  unsigned x, y, z;
} Dim;
/** What an emulated kernel thread reads its indices and barrier from (pg_emu.h's pg_emu_ctx). */
typedef struct {
  Dim thread, block, blockDim, gridDim;
  void (*sync)(void *);
  void *barrier;
  void (*warp_sync)(void *);
} Ctx;
typedef int (*Entry)(void **params, const Ctx *ctx, int *sizes);
typedef struct {
  char name[256];
  int nparams;
  int sizes[MAX_PARAMS];
  Entry emulated; // the kernel's host entry, in an emulator module
  int sync;       // whether its threads synchronize (then they run as fibers)
} Function;
typedef struct {
  int n;
  Function fns[256];
} Module;

/** The bytes of one `.param` declaration: `.param [.align N] .TYPE [.ptr …] NAME[count]`. */
static int param_bytes(const char *p, const char *end) {
  int size = 0, count = 1;
  for (const char *t = p; t < end; t++) {
    if (*t != '.') continue;
    if (!strncmp(t, ".u64", 4) || !strncmp(t, ".s64", 4) || !strncmp(t, ".b64", 4) || !strncmp(t, ".f64", 4))
      size = 8;
    else if (!strncmp(t, ".u32", 4) || !strncmp(t, ".s32", 4) || !strncmp(t, ".b32", 4) || !strncmp(t, ".f32", 4))
      size = 4;
    else if (!strncmp(t, ".u16", 4) || !strncmp(t, ".s16", 4) || !strncmp(t, ".b16", 4) || !strncmp(t, ".f16", 4))
      size = 2;
    else if (!strncmp(t, ".u8", 3) || !strncmp(t, ".s8", 3) || !strncmp(t, ".b8", 3))
      size = 1;
    if (size) break;
  }
  const char *bracket = memchr(p, '[', (size_t)(end - p));
  if (bracket) count = atoi(bracket + 1);
  return size * count;
}

static const char emulator_header[] = "// polygrad CUDA emulator module\n.emulated ";
/** An emulator module: `.emulated LIBRARY`, `.sync` where its kernels synchronize, then `.entry NAME` lines. */
static CUresult load_emulated(Module *m, const char *image) {
  char path[4096];
  const char *at = image + strlen(emulator_header), *nl = strchr(at, '\n');
  if (!nl) return INVALID_IMAGE;
  snprintf(path, sizeof path, "%.*s", (int)(nl - at), at);
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) return INVALID_IMAGE;
  int sync = strstr(image, "\n.sync\n") != NULL;
  for (const char *e = strstr(image, ".entry "); e && m->n < 256; e = strstr(e + 1, ".entry ")) {
    Function *f = &m->fns[m->n++];
    const char *end = strchr(e, '\n');
    snprintf(f->name, sizeof f->name, "%.*s", (int)(end - e - 7), e + 7);
    char sym[300];
    snprintf(sym, sizeof sym, "pg_emu_%s", f->name);
    f->emulated = (Entry)dlsym(lib, sym);
    if (!f->emulated) return INVALID_IMAGE;
    f->nparams = f->emulated(NULL, NULL, f->sizes);
    f->sync = sync;
  }
  return m->n ? OK : INVALID_IMAGE;
}

CUresult cuModuleLoadData(void **module, const char *image) {
  Module *m = calloc(1, sizeof(Module));
  if (!strncmp(image, emulator_header, strlen(emulator_header))) {
    CUresult r = load_emulated(m, image);
    if (r) return r;
    *module = m;
    say("module %d entries\n", m->n);
    return OK;
  }
  for (const char *at = strstr(image, ".entry "); at && m->n < 256; at = strstr(at + 1, ".entry ")) {
    Function *f = &m->fns[m->n++];
    const char *name = at + 7, *open = strchr(name, '(');
    if (!open) return INVALID_IMAGE;
    snprintf(f->name, sizeof f->name, "%.*s", (int)(open - name), name);
    const char *close = strchr(open, ')');
    for (const char *p = strstr(open, ".param"); p && p < close;) {
      if (f->nparams == MAX_PARAMS) return INVALID_IMAGE;
      const char *next = strstr(p + 6, ".param");
      const char *stop = next && next < close ? next : close;
      f->sizes[f->nparams++] = param_bytes(p + 6, stop);
      p = next;
    }
  }
  if (!m->n) return INVALID_IMAGE;
  *module = m;
  say("module %d entries\n", m->n);
  return OK;
}
CUresult cuModuleGetFunction(void **fn, void *module, const char *name) {
  Module *m = module;
  for (int i = 0; i < m->n; i++)
    if (!strcmp(m->fns[i].name, name)) {
      *fn = &m->fns[i];
      return OK;
    }
  return NOT_FOUND;
}

/** What one kernel launch was given: the function, its geometry and a copy of its parameters' bytes. */
typedef struct {
  Function *fn;
  unsigned grid[3], block[3], shmem;
  unsigned char params[MAX_PARAMS * SLOT];
} Launch;

static CUresult copy_launch(Launch *l, Function *fn, const unsigned grid[3], const unsigned block[3], unsigned shmem,
                            void **params, void **extra) {
  if (!fn || !params || extra) return INVALID_VALUE;
  l->fn = fn;
  memcpy(l->grid, grid, sizeof l->grid);
  memcpy(l->block, block, sizeof l->block);
  l->shmem = shmem;
  for (int i = 0; i < fn->nparams; i++) {
    if (!params[i] || fn->sizes[i] > SLOT) return INVALID_VALUE;
    memcpy(l->params + i * SLOT, params[i], (size_t)fn->sizes[i]);
  }
  return OK;
}
/** `launch NAME grid X Y Z block X Y Z shmem S params HEX`: the parameters as little-endian bytes, `,` between. */
static void say_launch(const char *what, const Launch *l) {
  say("%s %s grid %u %u %u block %u %u %u shmem %u params ", what, l->fn->name, l->grid[0], l->grid[1], l->grid[2],
      l->block[0], l->block[1], l->block[2], l->shmem);
  for (int i = 0; i < l->fn->nparams; i++) {
    if (i) say(",");
    for (int b = 0; b < l->fn->sizes[i]; b++) say("%02x", l->params[i * SLOT + b]);
  }
  say("\n");
}

/**
 * A block whose threads synchronize runs them as fibers on one host thread. Each thread runs until it waits at a
 * barrier or ends; a barrier opens when every live thread it spans waits there: a warp's (warp collectives such as
 * the emulated mma.sync) when all lanes of the warp do, the block's (__syncthreads) when all its threads do (a thread
 * that returned counts as arrived, as on sm_70+). Lanes of one warp waiting at different barriers, or a warp
 * collective in a warp some of whose lanes ended, is a kernel bug: reported, then abort. Deterministic, and cheap
 * next to one host thread per CUDA thread.
 */
enum { RUNNING, AT_BLOCK, AT_WARP };
typedef struct {
  ucontext_t context;
  Ctx ctx;
  int done, waiting;
} Fiber;
typedef struct {
  ucontext_t scheduler;
  Fiber *fibers, *current;
  const Launch *launch;
  void **params;
} Block;
static void wait_at(Block *b, int barrier) {
  b->current->waiting = barrier;
  swapcontext(&b->current->context, &b->scheduler);
}
static void fiber_sync(void *block) { wait_at(block, AT_BLOCK); }
static void fiber_warp_sync(void *block) { wait_at(block, AT_WARP); }
static Block *running; // the block the fibers of this launch belong to (launches run one at a time)
static void fiber_main(void) {
  Block *b = running;
  Fiber *f = b->current;
  b->launch->fn->emulated(b->params, &f->ctx, NULL);
  f->done = 1;
}
static void no_sync(void *barrier) {
  (void)barrier;
  fprintf(stderr, "fake libcuda: a barrier in a kernel its module did not mark .sync\n");
  abort();
}
static void misuse(const Launch *l, const char *what, unsigned warp) {
  fprintf(stderr, "fake libcuda: %s: %s (warp %u)\n", l->fn->name, what, warp);
  abort();
}
/** Opens the barriers every live thread they span has reached; 0 when all threads have ended. */
static int open_barriers(Block *b, unsigned threads) {
  int opened = 0, live = 0, at_block = 0, split = -1; // split: a warp some of whose lanes wait elsewhere
  for (unsigned w = 0; w * 32 < threads; w++) {
    unsigned end = w * 32 + 32 < threads ? w * 32 + 32 : threads, lanes = 0, warp = 0, ended = 0;
    for (unsigned t = w * 32; t < end; t++) {
      Fiber *f = &b->fibers[t];
      ended += f->done;
      lanes += !f->done;
      warp += !f->done && f->waiting == AT_WARP;
    }
    live += (int)lanes;
    if (!warp) continue;
    if (ended || end - w * 32 < 32) misuse(b->launch, "a warp collective in a warp with ended or absent lanes", w);
    if (warp != lanes) {
      if (split < 0) split = (int)w;
      continue;
    }
    for (unsigned t = w * 32; t < end; t++) b->fibers[t].waiting = RUNNING;
    opened = 1;
  }
  if (opened || !live) return live;
  for (unsigned t = 0; t < threads; t++) at_block += !b->fibers[t].done && b->fibers[t].waiting == AT_BLOCK;
  if (at_block != live)
    misuse(b->launch, "lanes wait at a warp collective while others wait at __syncthreads", (unsigned)split);
  for (unsigned t = 0; t < threads; t++) b->fibers[t].waiting = RUNNING;
  return live;
}
static Dim dim(const unsigned v[3]) { return (Dim){v[0], v[1], v[2]}; }
static Dim index_of(unsigned i, const unsigned n[3]) { return (Dim){i % n[0], i / n[0] % n[1], i / (n[0] * n[1])}; }

#define FIBER_STACK (256 << 10)
/** Runs an emulated kernel: its blocks one after another, a block's threads in turn (as fibers where they sync). */
static CUresult run(const Launch *l) {
  if (!l->fn->emulated) return OK;
  void *params[MAX_PARAMS];
  for (int i = 0; i < l->fn->nparams; i++) params[i] = (void *)(l->params + i * SLOT);
  unsigned threads = l->block[0] * l->block[1] * l->block[2], blocks = l->grid[0] * l->grid[1] * l->grid[2];
  if (!l->fn->sync) {
    Ctx ctx = {{0, 0, 0}, {0, 0, 0}, dim(l->block), dim(l->grid), no_sync, NULL, no_sync};
    for (unsigned b = 0; b < blocks; b++)
      for (unsigned t = 0; t < threads; t++) {
        ctx.block = index_of(b, l->grid);
        ctx.thread = index_of(t, l->block);
        l->fn->emulated(params, &ctx, NULL);
      }
    return OK;
  }
  Block block = {.launch = l, .params = params};
  block.fibers = calloc(threads, sizeof(Fiber));
  char *stacks = malloc((size_t)threads * FIBER_STACK);
  if (!block.fibers || !stacks) return OUT_OF_MEMORY;
  running = &block;
  for (unsigned b = 0; b < blocks; b++) {
    for (unsigned t = 0; t < threads; t++) {
      Fiber *f = &block.fibers[t];
      f->ctx = (Ctx){index_of(t, l->block), index_of(b, l->grid), dim(l->block), dim(l->grid), fiber_sync, &block,
                     fiber_warp_sync};
      f->done = f->waiting = 0;
      getcontext(&f->context);
      f->context.uc_stack.ss_sp = stacks + (size_t)t * FIBER_STACK;
      f->context.uc_stack.ss_size = FIBER_STACK;
      f->context.uc_link = &block.scheduler;
      makecontext(&f->context, fiber_main, 0);
    }
    do {
      for (unsigned t = 0; t < threads; t++) {
        if (block.fibers[t].done || block.fibers[t].waiting != RUNNING) continue;
        block.current = &block.fibers[t];
        swapcontext(&block.scheduler, &block.fibers[t].context);
      }
    } while (open_barriers(&block, threads));
  }
  running = NULL;
  free(stacks);
  free(block.fibers);
  return OK;
}

CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shmem, void *stream, void **params, void **extra) {
  Launch l;
  const unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
  CUresult r = copy_launch(&l, f, grid, block, shmem, params, extra);
  if (r) return r;
  say_launch("launch", &l);
  return stream ? INVALID_HANDLE : run(&l);
}

typedef struct {
  void *func;
  unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes;
  void **kernelParams;
  void **extra;
} KernelNodeParams;

typedef struct Graph Graph;
typedef struct {
  Graph *graph;
  int id;
} Node;
struct Graph {
  int n, cap;
  Node **nodes;
  int **deps, *ndeps; // each node's dependencies, by id
  Launch *launches;
};
typedef struct {
  Graph *graph;
  int n;
  Launch *launches;
} Exec;

static CUresult node_launch(Launch *l, const KernelNodeParams *p) {
  const unsigned grid[3] = {p->gridDimX, p->gridDimY, p->gridDimZ};
  const unsigned block[3] = {p->blockDimX, p->blockDimY, p->blockDimZ};
  return copy_launch(l, p->func, grid, block, p->sharedMemBytes, p->kernelParams, p->extra);
}

CUresult cuGraphCreate(void **graph, unsigned flags) {
  if (flags) return INVALID_VALUE;
  *graph = calloc(1, sizeof(Graph));
  return OK;
}
CUresult cuGraphAddKernelNode(void **node, void *graph, void **deps, size_t ndeps, const KernelNodeParams *p) {
  Graph *g = graph;
  for (size_t i = 0; i < ndeps; i++) {
    Node *d = deps[i];
    if (!d || d->graph != g) return INVALID_VALUE;
    for (size_t j = 0; j < i; j++)
      if (deps[j] == d) return INVALID_VALUE;
  }
  if (g->n == g->cap) {
    g->cap = g->cap ? 2 * g->cap : 16;
    g->nodes = realloc(g->nodes, sizeof(Node *) * (size_t)g->cap);
    g->launches = realloc(g->launches, sizeof(Launch) * (size_t)g->cap);
    g->deps = realloc(g->deps, sizeof(int *) * (size_t)g->cap);
    g->ndeps = realloc(g->ndeps, sizeof(int) * (size_t)g->cap);
  }
  CUresult r = node_launch(&g->launches[g->n], p);
  if (r) return r;
  Node *nd = malloc(sizeof(Node));
  nd->graph = g;
  nd->id = g->n;
  g->deps[g->n] = malloc(sizeof(int) * (ndeps ? ndeps : 1));
  for (size_t i = 0; i < ndeps; i++) g->deps[g->n][i] = ((Node *)deps[i])->id;
  g->ndeps[g->n] = (int)ndeps;
  g->nodes[g->n++] = nd;
  *node = nd;
  say("node %d after", nd->id);
  for (size_t i = 0; i < ndeps; i++) say(" %d", ((Node *)deps[i])->id);
  say("\n");
  return OK;
}
CUresult cuGraphInstantiateWithFlags(void **exec, void *graph, unsigned long long flags) {
  Graph *g = graph;
  if (flags) return INVALID_VALUE;
  Exec *e = malloc(sizeof(Exec));
  e->graph = g;
  e->n = g->n;
  e->launches = malloc(sizeof(Launch) * (size_t)(g->n ? g->n : 1));
  memcpy(e->launches, g->launches, sizeof(Launch) * (size_t)g->n);
  *exec = e;
  say("instantiate %d nodes\n", g->n);
  return OK;
}
CUresult cuGraphExecKernelNodeSetParams(void *exec, void *node, const KernelNodeParams *p) {
  Exec *e = exec;
  Node *nd = node;
  if (!nd || nd->graph != e->graph || nd->id >= e->n) return INVALID_VALUE;
  Launch l;
  CUresult r = node_launch(&l, p);
  if (r) return r;
  if (l.fn != e->launches[nd->id].fn) return INVALID_VALUE; // a node's function may not change
  e->launches[nd->id] = l;
  say("update node %d\n", nd->id);
  return OK;
}
/**
 * Logs the graph's launch, then runs each node, logged as a launch: each time the latest-added node whose
 * dependencies have run, so independent nodes run out of the order they were added — a missing dependency shows.
 */
CUresult cuGraphLaunch(void *exec, void *stream) {
  Exec *e = exec;
  Graph *g = e->graph;
  if (stream) return INVALID_HANDLE;
  say("graph launch %d nodes\n", e->n);
  char *ran = calloc((size_t)(e->n ? e->n : 1), 1);
  for (int done = 0; done < e->n; done++) {
    int next = -1;
    for (int i = e->n - 1; i >= 0 && next < 0; i--) {
      int ready = !ran[i];
      for (int d = 0; ready && d < g->ndeps[i]; d++) ready = ran[g->deps[i][d]];
      if (ready) next = i;
    }
    ran[next] = 1;
    say_launch("launch", &e->launches[next]);
    run(&e->launches[next]);
  }
  free(ran);
  return OK;
}
CUresult cuGraphExecDestroy(void *exec) {
  Exec *e = exec;
  free(e->launches);
  free(e);
  say("destroy exec\n");
  return OK;
}
CUresult cuGraphDestroy(void *graph) {
  Graph *g = graph;
  for (int i = 0; i < g->n; i++) {
    free(g->nodes[i]);
    free(g->deps[i]);
  }
  free(g->nodes);
  free(g->deps);
  free(g->ndeps);
  free(g->launches);
  free(g);
  say("destroy graph\n");
  return OK;
}

CUresult cuEventCreate(void **ev, unsigned flags) {
  *ev = malloc(1);
  return flags ? INVALID_VALUE : OK;
}
CUresult cuEventRecord(void *ev, void *stream) { return ev && !stream ? OK : INVALID_HANDLE; }
CUresult cuEventSynchronize(void *ev) { return ev ? OK : INVALID_HANDLE; }
CUresult cuEventElapsedTime(float *ms, void *start, void *end) {
  *ms = 0.25f;
  return start && end ? OK : INVALID_HANDLE;
}
CUresult cuGetErrorString(int err, const char **str) {
  switch (err) {
    case INVALID_VALUE: *str = "invalid argument"; break;
    case OUT_OF_MEMORY: *str = "out of memory"; break;
    case INVALID_IMAGE: *str = "device kernel image is invalid"; break;
    case INVALID_HANDLE: *str = "invalid resource handle"; break;
    case NOT_FOUND: *str = "named symbol not found"; break;
    default: *str = "unknown error"; return INVALID_VALUE;
  }
  return OK;
}

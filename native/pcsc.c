/*
 * pcscReaderState(name) -> Promise<{ known, present, events } | null>
 *
 * What pcscd says of one reader, asked on libuv's thread pool so the event loop never waits
 * for pcscd. (pcsc-lite's client waits for pcscd's answer without a time limit: a wedged pcscd
 * holds that pool thread, so the caller limits its questions — src/host/reader-watch.ts.) The
 * agent uses it to see a card leave its reader while a module host is stuck inside the module
 * (OpenSC 0.23 with OS locking deadlocks there, and the host's own presence watch waits on the
 * same lock). libpcsclite is opened with dlopen on first use, so the addon links nothing new.
 * Each question opens and closes its own pcscd context: questions are rare (only while a
 * watched signature is pending) and a context kept open would go stale when pcscd restarts.
 *
 * known: pcscd has a reader of that name (false: none — a slot description that names no
 * PC/SC reader, or a USB token that was its own reader and is gone). events: pcsc-lite's
 * per-reader event counter (the high 16 bits of dwEventState), which grows on every removal
 * and insertion, so a card pulled and put back between two looks is still seen. null: pcscd
 * could not be asked (no libpcsclite, no pcscd). OpenSC cuts slot descriptions to 64
 * characters (and tt-agent trims the trailing blanks), so a name not found as it is also
 * matches the one reader longer than 64 characters whose cut name it is.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pcsc.h"

/* pcsc-lite's ABI on Linux (winscard.h / pcsclite.h), declared here so no -dev package is needed. */
typedef long pcsc_long;
typedef unsigned long pcsc_dword;
typedef long pcsc_context;
typedef struct {
  const char *szReader;
  void *pvUserData;
  pcsc_dword dwCurrentState;
  pcsc_dword dwEventState;
  pcsc_dword cbAtr;
  unsigned char rgbAtr[33];
} pcsc_readerstate;

#define PCSC_SCOPE_SYSTEM 2
#define PCSC_STATE_UNAWARE 0x0000
#define PCSC_STATE_UNKNOWN 0x0004
#define PCSC_STATE_PRESENT 0x0020
#define PCSC_E_UNKNOWN_READER ((pcsc_long)0x80100009)
#define PCSC_E_NO_READERS_AVAILABLE ((pcsc_long)0x8010002E)
#define PCSC_NAME_MAX 128
#define OPENSC_SLOT_DESCRIPTION_LEN 64

static struct {
  pcsc_long (*establish)(pcsc_dword, const void *, const void *, pcsc_context *);
  pcsc_long (*status_change)(pcsc_context, pcsc_dword, pcsc_readerstate *, pcsc_dword);
  pcsc_long (*list_readers)(pcsc_context, const char *, char *, pcsc_dword *);
  pcsc_long (*release)(pcsc_context);
} pcsc;
static bool pcsc_loaded;
static pthread_once_t pcsc_once = PTHREAD_ONCE_INIT;

static void pcsc_load(void) {
  void *lib = dlopen("libpcsclite.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) return;
  pcsc.establish = dlsym(lib, "SCardEstablishContext");
  pcsc.status_change = dlsym(lib, "SCardGetStatusChange");
  pcsc.list_readers = dlsym(lib, "SCardListReaders");
  pcsc.release = dlsym(lib, "SCardReleaseContext");
  pcsc_loaded = pcsc.establish && pcsc.status_change && pcsc.list_readers && pcsc.release;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char name[PCSC_NAME_MAX];
  bool asked; /* pcscd answered */
  bool known;
  bool present;
  unsigned events;
} state_job;

enum look_result { LOOK_FAILED, LOOK_UNKNOWN, LOOK_KNOWN };

static enum look_result look(pcsc_context ctx, const char *name, state_job *job) {
  pcsc_readerstate rs;
  memset(&rs, 0, sizeof rs);
  rs.szReader = name;
  rs.dwCurrentState = PCSC_STATE_UNAWARE;
  pcsc_long rv = pcsc.status_change(ctx, 0, &rs, 1);
  if (rv == PCSC_E_UNKNOWN_READER || (rv == 0 && (rs.dwEventState & PCSC_STATE_UNKNOWN))) return LOOK_UNKNOWN;
  if (rv != 0) return LOOK_FAILED;
  job->known = true;
  job->present = (rs.dwEventState & PCSC_STATE_PRESENT) != 0;
  job->events = (unsigned)(rs.dwEventState >> 16) & 0xffff;
  return LOOK_KNOWN;
}

/* The length of `name` cut to OpenSC's slot description, trailing blanks trimmed. */
static size_t cut_length(const char *name) {
  size_t n = strnlen(name, OPENSC_SLOT_DESCRIPTION_LEN);
  while (n > 0 && name[n - 1] == ' ') n--;
  return n;
}

/*
 * The one reader longer than OpenSC's 64 characters whose cut name is job->name. Unknown only
 * when pcscd says so for sure (no reader fits); a failed list or two readers that fit tell
 * nothing, and the caller must not take that for a reader that went away.
 */
static enum look_result look_cut(pcsc_context ctx, state_job *job) {
  char list[4096];
  pcsc_dword len = sizeof list;
  pcsc_long rv = pcsc.list_readers(ctx, NULL, list, &len);
  if (rv == PCSC_E_NO_READERS_AVAILABLE) return LOOK_UNKNOWN;
  if (rv != 0 || len == 0 || len > sizeof list) return LOOK_FAILED;
  list[sizeof list - 1] = '\0';
  size_t want = strlen(job->name);
  const char *match = NULL;
  for (const char *r = list; r < list + len && *r != '\0'; r += strlen(r) + 1) {
    if (strlen(r) <= OPENSC_SLOT_DESCRIPTION_LEN || cut_length(r) != want || strncmp(r, job->name, want) != 0) continue;
    if (match != NULL) return LOOK_FAILED; /* two readers fit: name none */
    match = r;
  }
  return match != NULL ? look(ctx, match, job) : LOOK_UNKNOWN;
}

static void state_execute(napi_env env, void *data) {
  (void)env;
  state_job *job = data;
  pthread_once(&pcsc_once, pcsc_load);
  if (!pcsc_loaded) return;
  pcsc_context ctx;
  if (pcsc.establish(PCSC_SCOPE_SYSTEM, NULL, NULL, &ctx) != 0) return;
  enum look_result r = look(ctx, job->name, job);
  if (r == LOOK_UNKNOWN && strlen(job->name) <= OPENSC_SLOT_DESCRIPTION_LEN) r = look_cut(ctx, job);
  job->asked = r != LOOK_FAILED;
  pcsc.release(ctx);
}

static void state_complete(napi_env env, napi_status status, void *data) {
  state_job *job = data;
  napi_value result = NULL, known, present, events;
  if (status == napi_ok && job->asked && napi_create_object(env, &result) == napi_ok &&
      napi_get_boolean(env, job->known, &known) == napi_ok &&
      napi_get_boolean(env, job->present, &present) == napi_ok &&
      napi_create_uint32(env, job->events, &events) == napi_ok &&
      napi_set_named_property(env, result, "known", known) == napi_ok &&
      napi_set_named_property(env, result, "present", present) == napi_ok &&
      napi_set_named_property(env, result, "events", events) == napi_ok) {
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_get_null(env, &result);
    napi_resolve_deferred(env, job->deferred, result);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

napi_value pcsc_reader_state(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], promise, resource_name;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, "ERR_TT_NATIVE", "pcscReaderState: cannot read its arguments");
    return NULL;
  }
  state_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, "ENOMEM", "pcscReaderState: out of memory");
    return NULL;
  }
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], job->name, sizeof job->name, &len) != napi_ok ||
      len == 0 || len >= sizeof job->name - 1) {
    free(job);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "pcscReaderState(name: string of 1 to 126 bytes)");
    return NULL;
  }
  if (napi_create_string_utf8(env, "ttPcscReaderState", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_create_async_work(env, NULL, resource_name, state_execute, state_complete, job, &job->work) != napi_ok) {
    free(job);
    napi_throw_error(env, "ERR_TT_NATIVE", "pcscReaderState: could not create the request");
    return NULL;
  }
  /* The promise last, so every failure before it leaves nothing unsettled behind. */
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    napi_delete_async_work(env, job->work);
    free(job);
    napi_throw_error(env, "ERR_TT_NATIVE", "pcscReaderState: could not create the promise");
    return NULL;
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_value err, msg;
    napi_create_string_utf8(env, "pcscReaderState: could not queue the request", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
    napi_delete_async_work(env, job->work);
    free(job);
  }
  return promise;
}

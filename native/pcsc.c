/*
 * pcscReaderState(name) -> Promise<{ present, events } | null>
 *
 * What pcscd says of one reader, asked off the event loop (libuv's thread pool) so a slow or
 * stuck pcscd never stalls the caller. The agent uses it to see a card leave its reader while
 * a module host is stuck inside the module (OpenSC 0.23 with OS locking deadlocks there, and
 * the host's own presence watch waits on the same lock). libpcsclite is opened with dlopen on
 * first use, so the addon links nothing new and works, answering null, where PC/SC is absent.
 *
 * `events` is pcsc-lite's per-reader event counter (the high 16 bits of dwEventState): it
 * grows on every removal and insertion, so a card pulled and put back between two looks is
 * still seen. null: no libpcsclite, no pcscd, or no reader by that name (a slot description
 * that names no PC/SC reader). OpenSC cuts slot descriptions to 64 characters, so a name of
 * that length also matches the one reader whose name starts with it.
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
  bool known;
  bool present;
  unsigned events;
} state_job;

static bool look(pcsc_context ctx, const char *name, state_job *job) {
  pcsc_readerstate rs;
  memset(&rs, 0, sizeof rs);
  rs.szReader = name;
  rs.dwCurrentState = PCSC_STATE_UNAWARE;
  if (pcsc.status_change(ctx, 0, &rs, 1) != 0 || (rs.dwEventState & PCSC_STATE_UNKNOWN)) return false;
  job->known = true;
  job->present = (rs.dwEventState & PCSC_STATE_PRESENT) != 0;
  job->events = (unsigned)(rs.dwEventState >> 16) & 0xffff;
  return true;
}

/* A name cut to OpenSC's 64 characters: the one reader whose full name starts with it. */
static void look_by_prefix(pcsc_context ctx, state_job *job) {
  char list[4096];
  pcsc_dword len = sizeof list;
  if (pcsc.list_readers(ctx, NULL, list, &len) != 0 || len == 0 || len > sizeof list) return;
  list[sizeof list - 1] = '\0';
  size_t prefix = strlen(job->name);
  const char *match = NULL;
  for (const char *r = list; *r != '\0' && r < list + len; r += strlen(r) + 1) {
    if (strncmp(r, job->name, prefix) != 0) continue;
    if (match != NULL) return; /* two readers fit: name none */
    match = r;
  }
  if (match != NULL) look(ctx, match, job);
}

static void state_execute(napi_env env, void *data) {
  (void)env;
  state_job *job = data;
  pthread_once(&pcsc_once, pcsc_load);
  if (!pcsc_loaded) return;
  pcsc_context ctx;
  if (pcsc.establish(PCSC_SCOPE_SYSTEM, NULL, NULL, &ctx) != 0) return;
  if (!look(ctx, job->name, job) && strlen(job->name) >= OPENSC_SLOT_DESCRIPTION_LEN) look_by_prefix(ctx, job);
  pcsc.release(ctx);
}

static void state_complete(napi_env env, napi_status status, void *data) {
  state_job *job = data;
  napi_value result = NULL, present, events;
  if (status == napi_ok && job->known && napi_create_object(env, &result) == napi_ok &&
      napi_get_boolean(env, job->present, &present) == napi_ok &&
      napi_create_uint32(env, job->events, &events) == napi_ok &&
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
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
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
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "ttPcscReaderState", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_create_async_work(env, NULL, resource_name, state_execute, state_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    /* A promise made but never settled would leak its caller; fail loudly instead. */
    free(job);
    napi_throw_error(env, "ERR_TT_NATIVE", "pcscReaderState: could not queue the request");
    return NULL;
  }
  return promise;
}

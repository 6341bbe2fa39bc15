/*
 * tt_native: the few system calls Node cannot make by itself.
 *
 *   addEntropy(fd, data, entropyBits)  ioctl(fd, RNDADDENTROPY, struct rand_pool_info)
 *   peerCred(fd) -> { pid, uid, gid }  getsockopt(fd, SOL_SOCKET, SO_PEERCRED)
 *   setDumpable(flag) / getDumpable()  prctl(PR_SET_DUMPABLE / PR_GET_DUMPABLE)
 *   initializeWithoutLocking(binding, path)  C_Initialize(NULL_PTR) through pkcs11js's list
 *   pcscReaderState(name)              one PC/SC reader's state, off the event loop (pcsc.c)
 *
 * Plain N-API (node_api.h), so one build works on every Node release with the same
 * N-API version. Every failed call throws an Error whose .code is the errno name
 * (EPERM, EBADF, ...) and whose .syscall names the call, like Node's own errors.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <dlfcn.h>
#include <errno.h>
#include <linux/random.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "pcsc.h"

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      throw_internal(env, #call);                                              \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

static const char *errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case ENOTTY: return "ENOTTY";
    case ENOSYS: return "ENOSYS";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOTCONN: return "ENOTCONN";
    default: return "EUNKNOWN";
  }
}

static void throw_internal(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_TT_NATIVE", what);
}

/* Throws Error("<syscall>: <strerror>") with .code, .errno and .syscall set. */
static void throw_errno(napi_env env, const char *syscall, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value code, message, error, errno_value, syscall_value;
  if (napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok ||
      napi_create_error(env, code, message, &error) != napi_ok ||
      napi_create_int32(env, -err, &errno_value) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) != napi_ok) {
    throw_internal(env, msg);
    return;
  }
  /* Negative errno, as libuv reports it in Node's own SystemErrors. */
  napi_set_named_property(env, error, "errno", errno_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
}

static bool get_fd(napi_env env, napi_value v, int *fd) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number ||
      napi_get_value_int32(env, v, fd) != napi_ok || *fd < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "fd must be a non-negative integer");
    return false;
  }
  return true;
}

/* addEntropy(fd, data: Buffer, entropyBits: number): undefined */
static napi_value add_entropy(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "addEntropy(fd, data, entropyBits)");
    return NULL;
  }
  int fd;
  if (!get_fd(env, argv[0], &fd)) return NULL;

  bool is_buffer = false;
  CHECK(napi_is_buffer(env, argv[1], &is_buffer));
  if (!is_buffer) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "data must be a Buffer");
    return NULL;
  }
  void *data;
  size_t len;
  CHECK(napi_get_buffer_info(env, argv[1], &data, &len));

  int64_t bits;
  if (napi_get_value_int64(env, argv[2], &bits) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "entropyBits must be a number");
    return NULL;
  }
  /* The kernel takes buf_size and entropy_count as int; a byte carries at most 8 bits. */
  if (len == 0 || len > (size_t)(INT32_MAX / 8) || bits < 0 || bits > (int64_t)len * 8) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "need 0 < data.length and 0 <= entropyBits <= 8 * data.length");
    return NULL;
  }

  /* struct rand_pool_info ends in a flexible array of __u32: round the payload up to
     whole words so the allocation covers it, while buf_size still says the true length. */
  size_t words = (len + sizeof(__u32) - 1) / sizeof(__u32);
  struct rand_pool_info *rpi = calloc(1, sizeof *rpi + words * sizeof(__u32));
  if (rpi == NULL) {
    throw_errno(env, "calloc", ENOMEM);
    return NULL;
  }
  rpi->entropy_count = (int)bits;
  rpi->buf_size = (int)len;
  memcpy(rpi->buf, data, len);

  int rc = ioctl(fd, RNDADDENTROPY, rpi);
  int err = errno;
  /* The pool input is secret material: wipe our copy before freeing it. */
  explicit_bzero(rpi, sizeof *rpi + words * sizeof(__u32));
  free(rpi);
  if (rc != 0) {
    throw_errno(env, "ioctl(RNDADDENTROPY)", err);
    return NULL;
  }
  return NULL;
}

/* peerCred(fd): { pid, uid, gid } of the process at the other end of a unix socket. */
static napi_value peer_cred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "peerCred(fd)");
    return NULL;
  }
  if (!get_fd(env, argv[0], &fd)) return NULL;

  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    throw_errno(env, "getsockopt(SO_PEERCRED)", errno);
    return NULL;
  }
  napi_value result, pid, uid, gid;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_int32(env, cred.pid, &pid));
  CHECK(napi_create_uint32(env, cred.uid, &uid));
  CHECK(napi_create_uint32(env, cred.gid, &gid));
  CHECK(napi_set_named_property(env, result, "pid", pid));
  CHECK(napi_set_named_property(env, result, "uid", uid));
  CHECK(napi_set_named_property(env, result, "gid", gid));
  return result;
}

/* setDumpable(flag): a non-dumpable process leaves no core file and cannot be
   ptrace-attached by other processes of the same user (only by CAP_SYS_PTRACE). */
static napi_value set_dumpable(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool flag;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &flag) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "setDumpable(flag: boolean)");
    return NULL;
  }
  if (prctl(PR_SET_DUMPABLE, flag ? 1 : 0, 0, 0, 0) != 0) {
    throw_errno(env, "prctl(PR_SET_DUMPABLE)", errno);
    return NULL;
  }
  return NULL;
}

static napi_value get_dumpable(napi_env env, napi_callback_info info) {
  (void)info;
  int v = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  if (v < 0) {
    throw_errno(env, "prctl(PR_GET_DUMPABLE)", errno);
    return NULL;
  }
  napi_value result;
  /* 2 (suid_dumpable "root only") also counts as dumpable for our purpose. */
  CHECK(napi_get_boolean(env, v != 0, &result));
  return result;
}

/* initializeWithoutLocking(binding, path): C_Initialize(NULL_PTR) through the very
   CK_FUNCTION_LIST the PKCS#11 binding (pkcs11js) calls. pkcs11js 2.1 always passes a
   CK_C_INITIALIZE_ARGS (flags 0), and OpenSC treats any args structure as "use OS locking": the
   mode that deadlocks OpenSC 0.23 when a card operation meets a removal.
   The list must be the binding's own: p11-kit-proxy hands out a new function list, with its own
   initialization state, on every C_GetFunctionList call, so initializing a list of our own would
   leave the binding's list uninitialized (CKR_CRYPTOKI_NOT_INITIALIZED on its first call).
   pkcs11js keeps { void *handle; CK_FUNCTION_LIST_PTR functionList; } as the native object
   wrapped (napi_wrap) in its PKCS11 instance; napi_unwrap reaches it from any addon in the same
   isolate. The layout is checked before use: the handle must be the one dlopen() gives for the
   module path (a loaded library has one handle), else nothing is called.
   Returns the CK_RV. Only the start of CK_FUNCTION_LIST is needed: CK_VERSION, then
   C_Initialize (PKCS#11 2.40 section 5.5). */
typedef unsigned long tt_ck_rv;
struct tt_function_list_head {
  unsigned char version_major, version_minor;
  tt_ck_rv (*C_Initialize)(void *init_args);
};
/* The first members of pkcs11js 2.1's class Pkcs11 (src/pkcs11.cpp), a standard-layout class. */
struct tt_pkcs11js_object {
  void *handle;
  struct tt_function_list_head *function_list;
};

static napi_value initialize_without_locking(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  size_t len;
  napi_valuetype t;
  if (argc < 2 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_object ||
      napi_get_value_string_utf8(env, argv[1], path, sizeof path, &len) != napi_ok || len >= sizeof path - 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "initializeWithoutLocking(binding: PKCS11, path: string)");
    return NULL;
  }
  struct tt_pkcs11js_object *binding = NULL;
  if (napi_unwrap(env, argv[0], (void **)&binding) != napi_ok || binding == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "initializeWithoutLocking: not a pkcs11js PKCS11 object");
    return NULL;
  }
  /* RTLD_NOLOAD: only a library the binding already loaded; never run a new one's constructors. */
  void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (!handle) {
    napi_throw_error(env, "ENOENT", "initializeWithoutLocking: the module is not loaded in this process");
    return NULL;
  }
  /* The binding's own reference keeps the library loaded. */
  dlclose(handle);
  if (binding->handle != handle || binding->function_list == NULL || binding->function_list->C_Initialize == NULL) {
    napi_throw_error(env, "ENOSYS",
                     "initializeWithoutLocking: the binding's layout is not the expected one (pkcs11js version?)");
    return NULL;
  }
  tt_ck_rv rv = binding->function_list->C_Initialize(NULL);
  napi_value result;
  CHECK(napi_create_double(env, (double)rv, &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"addEntropy", NULL, add_entropy, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peerCred", NULL, peer_cred, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setDumpable", NULL, set_dumpable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getDumpable", NULL, get_dumpable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"initializeWithoutLocking", NULL, initialize_without_locking, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pcscReaderState", NULL, pcsc_reader_state, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
